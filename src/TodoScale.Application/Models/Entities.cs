namespace TodoScale.Application.Models;

/// <summary>The status values the todos_active CHECK constraint allows.</summary>
public static class TodoStatus
{
    public const string Todo = "todo";
    public const string InProgress = "in_progress";
    public const string Done = "done";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All = [Todo, InProgress, Done, Cancelled];

    public static bool IsValid(string? value) => value is not null && All.Contains(value);
}

/// <summary>Limits the API validates before the database sees a value.</summary>
public static class TodoLimits
{
    public const int TitleMaxLength = 500;
    public const int MinPriority = 0;
    public const int MaxPriority = 4;
}

public sealed class User
{
    public Guid Id { get; set; }
    public string Email { get; set; } = "";
    public string? DisplayName { get; set; }
    public DateTime CreatedAt { get; set; }
}

public sealed class Project
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>An open or recently finished todo: a row of todos_active, keyed (user_id, id) so every write touches one partition.</summary>
public sealed class TodoActive
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid? ParentTodoId { get; set; }
    public Guid? ProjectId { get; set; }
    public string Title { get; set; } = "";
    public string? Description { get; set; }
    public string Status { get; set; } = TodoStatus.Todo;
    public int Priority { get; set; }
    public DateTime? DueDate { get; set; }
    public DateTime? CompletedAt { get; set; }
    public bool AiGenerated { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A done todo moved out of the active set by archive_completed_todos: a row of todos_archived, keyed (id, completed_at).</summary>
public sealed class TodoArchived
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid? ParentTodoId { get; set; }
    public Guid? ProjectId { get; set; }
    public string Title { get; set; } = "";
    public string? Description { get; set; }
    public string Status { get; set; } = TodoStatus.Done;
    public int Priority { get; set; }
    public DateTime? DueDate { get; set; }
    public DateTime CompletedAt { get; set; }
    public bool AiGenerated { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime ArchivedAt { get; set; }
}

/// <summary>One call to the AI assistant about a todo: a row of ai_todo_interactions, keyed (id, created_at).</summary>
public sealed class AiTodoInteraction
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public Guid? TodoId { get; set; }
    public string InteractionType { get; set; } = "";
    public string? Prompt { get; set; }
    public string? Response { get; set; }
    public string? Model { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public int? LatencyMs { get; set; }
    public DateTime CreatedAt { get; set; }
}
