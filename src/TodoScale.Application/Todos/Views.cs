namespace TodoScale.Application.Todos;

/// <summary>A todo as the application shows it, from todos_active or todos_archived (Archived tells which).</summary>
public sealed record TodoView(
    Guid Id,
    Guid? ParentTodoId,
    Guid? ProjectId,
    string Title,
    string? Description,
    string Status,
    int Priority,
    DateTime? DueDate,
    DateTime? CompletedAt,
    bool AiGenerated,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    bool Archived,
    DateTime? ArchivedAt);

public sealed record NewTodo(
    string? Title,
    string? Description = null,
    int Priority = 0,
    DateTime? DueDate = null,
    Guid? ProjectId = null,
    Guid? ParentTodoId = null,
    bool AiGenerated = false);

/// <summary>The editable fields of a todo, all replaced (Status null keeps the current status).</summary>
public sealed record TodoUpdate(
    string? Title,
    string? Description,
    int Priority,
    DateTime? DueDate,
    Guid? ProjectId,
    string? Status);

/// <summary>
/// Filters and page position of a list. With IncludeArchived the active todos come first (priority DESC,
/// created_at DESC, id DESC), then the archived ones (completed_at DESC, id DESC).
/// </summary>
public sealed record TodoListQuery
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public string? Status { get; init; }
    public Guid? ProjectId { get; init; }
    public DateTime? DueBefore { get; init; }
    public DateTime? DueAfter { get; init; }
    public bool IncludeArchived { get; init; }
    public int Limit { get; init; } = DefaultLimit;
    public string? Cursor { get; init; }
}

/// <summary>One page; NextCursor is null on the last page.</summary>
public sealed record TodoPage(IReadOnlyList<TodoView> Items, string? NextCursor);
