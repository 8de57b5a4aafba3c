using Npgsql;
using TodoScale.Application.Data;
using TodoScale.Application.Models;

namespace TodoScale.Application.Ai;

/// <summary>AI interactions as <see cref="AiInteractionView"/>: from a row of <see cref="TodoQueries.RecentAiInteractions"/>, or from an EF Core entity.</summary>
internal static class AiInteractionRows
{
    /// <summary>Columns: id, todo_id, interaction_type, prompt, response, model, prompt_tokens, completion_tokens, latency_ms, created_at.</summary>
    public static AiInteractionView Read(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GuidOrNull(1), r.GetString(2), r.StringOrNull(3), r.StringOrNull(4), r.StringOrNull(5),
            r.IntOrNull(6), r.IntOrNull(7), r.IntOrNull(8), r.GetDateTime(9));

    public static AiInteractionView ToView(AiTodoInteraction i) => new(i.Id, i.TodoId, i.InteractionType, i.Prompt, i.Response, i.Model,
        i.PromptTokens, i.CompletionTokens, i.LatencyMs, i.CreatedAt);
}
