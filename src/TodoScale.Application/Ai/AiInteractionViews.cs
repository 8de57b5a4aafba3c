namespace TodoScale.Application.Ai;

public sealed record AiInteractionView(
    Guid Id,
    Guid? TodoId,
    string InteractionType,
    string? Prompt,
    string? Response,
    string? Model,
    int? PromptTokens,
    int? CompletionTokens,
    int? LatencyMs,
    DateTime CreatedAt);

public sealed record NewAiInteraction(
    string InteractionType,
    string? Prompt,
    string? Response,
    string? Model,
    int? PromptTokens,
    int? CompletionTokens,
    int? LatencyMs);
