using Microsoft.EntityFrameworkCore;
using TodoScale.Application.Data;
using TodoScale.Application.Models;
using TodoScale.Application.Todos;

namespace TodoScale.Application.Ai;

/// <summary>
/// The log of AI interactions about a user's todos: record one, list a todo's, and store AI-suggested subtasks
/// together with the interaction that produced them (<see cref="SubtaskSuggester"/> asks the model). All of it
/// goes through EF Core (see <see cref="PreparedStatements"/>); the dashboard's recent interactions are a prepared statement.
/// </summary>
public sealed class AiInteractionService(TodoDbContext db, TodoService todos, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public async Task<AiInteractionView> RecordAiInteractionAsync(Guid userId, Guid todoId, NewAiInteraction input, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.AiInteraction(input, errors);
        InputRules.ThrowIfAny(errors);

        await todos.GetRequiredTodoAsync(userId, todoId, ct);
        var entity = NewInteraction(userId, todoId, input);
        db.AiInteractions.Add(entity);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return AiInteractionRows.ToView(entity);
    }

    internal AiTodoInteraction NewInteraction(Guid userId, Guid todoId, NewAiInteraction input) => new()
    {
        Id = Guid.CreateVersion7(),
        UserId = userId,
        TodoId = todoId,
        InteractionType = input.InteractionType,
        Prompt = input.Prompt,
        Response = input.Response,
        Model = input.Model,
        PromptTokens = input.PromptTokens,
        CompletionTokens = input.CompletionTokens,
        LatencyMs = input.LatencyMs,
        CreatedAt = _clock.GetUtcNow().UtcDateTime,
    };

    public async Task<IReadOnlyList<AiInteractionView>> ListAiInteractionsAsync(Guid userId, Guid todoId, CancellationToken ct = default)
    {
        await todos.GetRequiredTodoAsync(userId, todoId, ct);
        var rows = await db.AiInteractions.Where(i => i.UserId == userId && i.TodoId == todoId)
            .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id).ToListAsync(ct);
        return rows.Select(AiInteractionRows.ToView).ToList();
    }

    /// <summary>Stores AI-suggested subtasks and the interaction that produced them in one transaction (one SaveChanges).</summary>
    internal async Task<IReadOnlyList<TodoView>> SaveSuggestionsAsync(IReadOnlyList<TodoActive> subtasks, AiTodoInteraction interaction, CancellationToken ct)
    {
        db.TodosActive.AddRange(subtasks);
        db.AiInteractions.Add(interaction);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return subtasks.Select(TodoRows.ToView).ToList();
    }
}
