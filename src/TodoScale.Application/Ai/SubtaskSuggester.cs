using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using TodoScale.Application.Models;
using TodoScale.Application.Todos;

namespace TodoScale.Application.Ai;

/// <summary>
/// Asks a chat model (any IChatClient: OpenAI-compatible endpoint in production, a fake in tests) to break a
/// todo into subtasks, stores them as ai_generated todos under it and logs the interaction
/// (<see cref="AiInteractionService.SaveSuggestionsAsync"/>: both in one transaction).
/// </summary>
public sealed class SubtaskSuggester(TodoService todos, AiInteractionService interactions, IChatClient? chatClient, string? configuredModel = null)
{
    public const string InteractionType = "suggest_subtasks";
    public const int MaxSubtasks = 10;

    public async Task<IReadOnlyList<TodoView>> SuggestAsync(Guid userId, Guid todoId, CancellationToken ct = default)
    {
        var todo = await todos.GetRequiredTodoAsync(userId, todoId, ct);
        if (chatClient is null)
        {
            throw new AiUnavailableException("No chat model is configured. Set Ai:Endpoint, Ai:Model and Ai:ApiKey (OpenAI-compatible) to enable AI suggestions.");
        }

        var prompt = $"""
            Break the following task into at most {MaxSubtasks} short, concrete subtasks.
            Answer with a JSON array of strings and nothing else.
            Task: {todo.Title}
            {(string.IsNullOrWhiteSpace(todo.Description) ? "" : "Details: " + todo.Description)}
            """;
        var watch = Stopwatch.StartNew();
        ChatResponse response;
        try
        {
            response = await chatClient.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], cancellationToken: ct);
        }
        // Any client failure (HTTP error, bad key, unknown model; each client library has its own exception type)
        // means the feature is unavailable right now, not that the request was bad: 503, not 500.
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new AiUnavailableException($"The chat model could not be reached: {e.Message}", e);
        }

        watch.Stop();
        // A model may answer NUL or stray control characters; its answer is logged, not refused: it is not the caller's input.
        var text = InputRules.WithoutRefusedCharacters(response.Text ?? "", TextShape.MultiLine);
        var titles = ParseTitles(text);
        var subtasks = new List<TodoActive>();
        foreach (var title in titles)
        {
            subtasks.Add(await todos.PrepareNewTodoAsync(userId,
                new NewTodo(title, Priority: todo.Priority, ProjectId: todo.ProjectId, ParentTodoId: todo.Id, AiGenerated: true), ct));
        }

        var interaction = interactions.NewInteraction(userId, todo.Id, new NewAiInteraction(
            InteractionType, prompt, text, response.ModelId ?? configuredModel,
            ToInt(response.Usage?.InputTokenCount), ToInt(response.Usage?.OutputTokenCount), (int)watch.ElapsedMilliseconds));
        return await interactions.SaveSuggestionsAsync(subtasks, interaction, ct);
    }

    /// <summary>A JSON array of strings when the model obeyed, else one subtask per non-empty line (bullets and numbers stripped).</summary>
    public static IReadOnlyList<string> ParseTitles(string text)
    {
        var trimmed = text.Trim();
        var start = trimmed.IndexOf('[', StringComparison.Ordinal);
        var end = trimmed.LastIndexOf(']');
        IEnumerable<string> raw;
        try
        {
            raw = start >= 0 && end > start
                ? JsonSerializer.Deserialize<string[]>(trimmed[start..(end + 1)]) ?? []
                : Lines(trimmed);
        }
        catch (JsonException)
        {
            raw = Lines(trimmed);
        }

        // Cut to length first, so that a surrogate pair split by the cut loses its lone half with the refused characters.
        return raw.Select(t => t.Trim())
            .Select(t => t.Length > TodoLimits.TitleMaxLength ? t[..TodoLimits.TitleMaxLength] : t)
            .Select(t => InputRules.WithoutRefusedCharacters(t, TextShape.SingleLine).Trim())
            .Where(t => t.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .Take(MaxSubtasks)
            .ToList();

        static IEnumerable<string> Lines(string s) =>
            s.Split('\n').Select(l => l.Trim().TrimStart('-', '*', '•', ' ', '\t').TrimStart("0123456789".ToCharArray()).TrimStart('.', ')', ' ').Trim());
    }

    private static int? ToInt(long? v) => v is null ? null : (int)Math.Min(v.Value, int.MaxValue);
}
