using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using TodoScale.Application.Data;
using TodoScale.Application.Models;
using TodoScale.Application.Paging;
using static TodoScale.Application.Data.PreparedStatements;

namespace TodoScale.Application.Todos;

/// <summary>
/// A user's todos: create, read, list, update, complete, reopen, delete, subtasks. Every method takes the acting
/// user's id and every statement filters on it, so a query prunes to that user's partition and a user can never
/// reach another user's rows: someone else's todo is simply "not found". Which statements go through EF Core and
/// which are <see cref="TodoQueries"/>: see <see cref="PreparedStatements"/>.
/// </summary>
public sealed class TodoService(NpgsqlDataSource dataSource, TodoDbContext db)
{
    public async Task<TodoView> CreateTodoAsync(Guid userId, NewTodo input, CancellationToken ct = default)
    {
        var entity = await PrepareNewTodoAsync(userId, input, ct);
        db.TodosActive.Add(entity);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return TodoRows.ToView(entity);
    }

    /// <summary>Validates a new todo and its references (parent and project of the same user) and builds the row.</summary>
    internal async Task<TodoActive> PrepareNewTodoAsync(Guid userId, NewTodo input, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.NewTodo(input, errors);
        InputRules.ThrowIfAny(errors);

        // No foreign key can span the partitions (guide, troubleshooting #3): the parent must be this
        // user's todo, active or archived, or a subtask would point at nothing or at someone else's todo.
        if (input.ParentTodoId is { } parentId && await GetTodoAsync(userId, parentId, ct) is null)
        {
            throw new TodoNotFoundException("parent todo");
        }

        await EnsureProjectAsync(userId, input.ProjectId, ct);

        return new TodoActive
        {
            Id = Guid.CreateVersion7(),
            UserId = userId,
            ParentTodoId = input.ParentTodoId,
            ProjectId = input.ProjectId,
            Title = input.Title!,
            Description = input.Description,
            Status = TodoStatus.Todo,
            Priority = input.Priority,
            DueDate = input.DueDate?.ToUniversalTime(),
            AiGenerated = input.AiGenerated,
        };
    }

    /// <summary>The todo, looked up in todos_active then todos_archived; null when this user has none with that id.</summary>
    public async Task<TodoView?> GetTodoAsync(Guid userId, Guid id, CancellationToken ct = default)
    {
        var active = await db.TodosActive.Where(t => t.UserId == userId && t.Id == id).FirstOrDefaultAsync(ct);
        if (active is not null)
        {
            return TodoRows.ToView(active);
        }

        // Not EF's query on todos_archived: by id alone it probes the key index of every month (see ArchivedById).
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var archived = await ReadAllAsync(conn, TodoQueries.ArchivedById, [P(userId), P(id)], TodoRows.Read, ct);
        return archived.Count == 0 ? null : archived[0];
    }

    public async Task<TodoView> GetRequiredTodoAsync(Guid userId, Guid id, CancellationToken ct = default) =>
        await GetTodoAsync(userId, id, ct) ?? throw new TodoNotFoundException("todo");

    /// <summary>
    /// A page of the user's todos (see <see cref="TodoListQuery"/> for the order). Pages are keyset-based
    /// (<see cref="PageCursor"/>): todos added while a client pages never make it see a todo twice or skip one. A todo
    /// archived between two page requests moves from the active part to the archived part of the order and may be
    /// seen in both or, when it was not yet reached, once in the archived part.
    /// </summary>
    public async Task<TodoPage> ListTodosAsync(Guid userId, TodoListQuery query, CancellationToken ct = default)
    {
        var cursor = query.Cursor is null ? null : PageCursor.TryParse(query.Cursor);
        var errors = new Dictionary<string, string[]>();
        InputRules.ListQuery(query, cursor, errors);
        InputRules.ThrowIfAny(errors);

        var items = new List<TodoView>(query.Limit);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        if (cursor is null || !cursor.Archived)
        {
            var rows = await ReadAllAsync(conn, TodoQueries.ListActivePage,
            [
                P(userId), P(query.Status, NpgsqlDbType.Text), P(query.ProjectId), P(query.DueBefore), P(query.DueAfter),
                P(cursor?.Priority, NpgsqlDbType.Integer), P(cursor?.Time), P(cursor?.Id), P(query.Limit + 1),
            ], TodoRows.Read, ct);
            if (rows.Count > query.Limit)
            {
                var last = rows[query.Limit - 1];
                return new TodoPage(rows.Take(query.Limit).ToList(), PageCursor.ForActive(last).Encode());
            }

            items.AddRange(rows);
            if (!query.IncludeArchived)
            {
                return new TodoPage(items, null);
            }
        }

        var remaining = query.Limit - items.Count;
        var archivedAfter = cursor is { Archived: true, Time: not null } ? cursor : null;
        var archived = await ReadAllAsync(conn, TodoQueries.ListArchivedPage,
        [
            P(userId), P(query.Status, NpgsqlDbType.Text), P(query.ProjectId), P(query.DueBefore), P(query.DueAfter),
            P(archivedAfter?.Time), P(archivedAfter?.Id), P(remaining + 1),
        ], TodoRows.Read, ct);
        if (archived.Count > remaining)
        {
            items.AddRange(archived.Take(remaining));
            var next = remaining == 0 ? PageCursor.ArchivedStart : PageCursor.ForArchived(items[^1]);
            return new TodoPage(items, next.Encode());
        }

        items.AddRange(archived);
        return new TodoPage(items, null);
    }

    /// <summary>Replaces the editable fields of an active todo. Archived todos are history: reopen first.</summary>
    public async Task<TodoView> UpdateTodoAsync(Guid userId, Guid id, TodoUpdate input, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.Update(input, errors);
        InputRules.ThrowIfAny(errors);
        var current = await GetRequiredTodoAsync(userId, id, ct);
        if (current.Archived)
        {
            throw new TodoConflictException("the todo is archived; reopen it before changing it");
        }

        await EnsureProjectAsync(userId, input.ProjectId, ct);
        var updated = await SingleTodoAsync(TodoQueries.Update,
        [
            P(userId), P(id), P(input.Title, NpgsqlDbType.Text), P(input.Description, NpgsqlDbType.Text), P(input.Priority),
            P(input.DueDate?.ToUniversalTime()), P(input.ProjectId), P(input.Status, NpgsqlDbType.Text), P(DateTime.UtcNow),
        ], ct);
        return updated ?? throw new TodoNotFoundException("todo");
    }

    /// <summary>Marks the todo done (completed_at now). Completing an archived todo returns it unchanged: it is done already.</summary>
    public async Task<TodoView> CompleteTodoAsync(Guid userId, Guid id, CancellationToken ct = default) =>
        await SingleTodoAsync(TodoQueries.Complete, [P(userId), P(id), P(DateTime.UtcNow)], ct)
        ?? await GetTodoAsync(userId, id, ct)
        ?? throw new TodoNotFoundException("todo");

    /// <summary>Reopens a todo: an active one goes back to 'todo'; an archived one moves back to todos_active in one transaction.</summary>
    public async Task<TodoView> ReopenTodoAsync(Guid userId, Guid id, CancellationToken ct = default) =>
        await SingleTodoAsync(TodoQueries.ReopenActive, [P(userId), P(id)], ct)
        ?? await SingleTodoAsync(TodoQueries.ReopenArchived, [P(userId), P(id)], ct)
        ?? throw new TodoNotFoundException("todo");

    /// <summary>
    /// Deletes the todo and all its subtasks, recursively, whether active or archived (what the legacy
    /// schema's ON DELETE CASCADE did). AI interactions stay in the log. Returns how many todos went.
    /// </summary>
    public async Task<long> DeleteTodoAsync(Guid userId, Guid id, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = Command(conn, TodoQueries.DeleteWithSubtasks, [P(userId), P(id)]);
        var deleted = (long)(await cmd.ExecuteScalarAsync(ct))!;
        return deleted == 0 ? throw new TodoNotFoundException("todo") : deleted;
    }

    /// <summary>The direct subtasks of a todo, active then archived, oldest first.</summary>
    public async Task<IReadOnlyList<TodoView>> GetSubtasksAsync(Guid userId, Guid id, CancellationToken ct = default)
    {
        await GetRequiredTodoAsync(userId, id, ct);
        var active = await db.TodosActive.Where(t => t.UserId == userId && t.ParentTodoId == id)
            .OrderBy(t => t.CreatedAt).ThenBy(t => t.Id).ToListAsync(ct);
        var archived = await db.TodosArchived.Where(t => t.UserId == userId && t.ParentTodoId == id)
            .OrderBy(t => t.CreatedAt).ThenBy(t => t.Id).ToListAsync(ct);
        return active.Select(TodoRows.ToView).Concat(archived.Select(TodoRows.ToView)).ToList();
    }

    /// <summary>A todo may only name a project of its own user: someone else's project is "not found", like a missing one.</summary>
    private async Task EnsureProjectAsync(Guid userId, Guid? projectId, CancellationToken ct)
    {
        if (projectId is { } pid && !await db.Projects.AnyAsync(p => p.UserId == userId && p.Id == pid, ct))
        {
            throw new TodoNotFoundException("project");
        }
    }

    private async Task<TodoView?> SingleTodoAsync(string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var rows = await ReadAllAsync(conn, sql, parameters, TodoRows.Read, ct);
        return rows.Count == 0 ? null : rows[0];
    }
}
