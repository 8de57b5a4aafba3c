using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using TodoScale.Application.Data;
using TodoScale.Application.Models;

namespace TodoScale.Application.Todos;

/// <summary>
/// The guide's TodoService grown to what the app needs. Every method takes the acting user's id and every
/// statement filters on it, so a query prunes to that user's partition and a user can never reach another
/// user's rows: someone else's todo is simply "not found".
/// Simple reads and writes go through EF Core; the hot paths (lists, dashboard) and the multi-row moves
/// run the hand-tuned statements of <see cref="TodoQueries"/> through Npgsql.
/// </summary>
public sealed class TodoService(NpgsqlDataSource dataSource, TodoDbContext db, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public const int DashboardTopOpenCount = 10;
    public const int DashboardRecentAiCount = 10;

    // ------------------------------------------------------------------------------------------------
    // Todos
    // ------------------------------------------------------------------------------------------------

    public async Task<TodoView> CreateTodoAsync(Guid userId, NewTodo input, CancellationToken ct = default)
    {
        var entity = await PrepareNewTodoAsync(userId, input, ct);
        db.TodosActive.Add(entity);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return ToView(entity);
    }

    /// <summary>Validates a new todo and its references (parent and project of the same user) and builds the row.</summary>
    internal async Task<TodoActive> PrepareNewTodoAsync(Guid userId, NewTodo input, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.NewTodo(input, errors);
        ThrowIfAny(errors);

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
            return ToView(active);
        }

        var archived = await db.TodosArchived.Where(t => t.UserId == userId && t.Id == id).FirstOrDefaultAsync(ct);
        return archived is null ? null : ToView(archived);
    }

    public async Task<TodoView> GetRequiredTodoAsync(Guid userId, Guid id, CancellationToken ct = default) =>
        await GetTodoAsync(userId, id, ct) ?? throw new TodoNotFoundException("todo");

    /// <summary>
    /// A page of the user's todos (see <see cref="TodoListQuery"/> for the order). Pages are keyset-based:
    /// todos added while a client pages never make it see a todo twice or skip one. A todo archived between
    /// two page requests moves from the active part to the archived part of the order and may be seen in
    /// both or, when it was not yet reached, once in the archived part.
    /// </summary>
    public async Task<TodoPage> ListTodosAsync(Guid userId, TodoListQuery query, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.Status is not null && !TodoStatus.IsValid(query.Status))
        {
            errors["status"] = [$"must be one of {string.Join(", ", TodoStatus.All)}"];
        }

        if (query.Limit is < 1 or > TodoListQuery.MaxLimit)
        {
            errors["limit"] = [$"must be between 1 and {TodoListQuery.MaxLimit}"];
        }

        var cursor = query.Cursor is null ? null : PageCursor.TryParse(query.Cursor);
        if (query.Cursor is not null && (cursor is null || (cursor.Archived && !query.IncludeArchived)))
        {
            errors["cursor"] = ["is not a cursor returned by this list"];
        }

        ThrowIfAny(errors);

        var items = new List<TodoView>(query.Limit);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        if (cursor is null || !cursor.Archived)
        {
            var rows = await ReadTodosAsync(conn, TodoQueries.ListActivePage,
            [
                P(userId), P(query.Status, NpgsqlDbType.Text), P(query.ProjectId), P(query.DueBefore), P(query.DueAfter),
                P(cursor?.Priority, NpgsqlDbType.Integer), P(cursor?.Time), P(cursor?.Id), P(query.Limit + 1),
            ], ct);
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
        var archived = await ReadTodosAsync(conn, TodoQueries.ListArchivedPage,
        [
            P(userId), P(query.Status, NpgsqlDbType.Text), P(query.ProjectId), P(query.DueBefore), P(query.DueAfter),
            P(archivedAfter?.Time), P(archivedAfter?.Id), P(remaining + 1),
        ], ct);
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
        ThrowIfAny(errors);
        var current = await GetRequiredTodoAsync(userId, id, ct);
        if (current.Archived)
        {
            throw new TodoConflictException("the todo is archived; reopen it before changing it");
        }

        await EnsureProjectAsync(userId, input.ProjectId, ct);
        var updated = await SingleTodoAsync(TodoQueries.Update,
        [
            P(userId), P(id), P(input.Title, NpgsqlDbType.Text), P(input.Description, NpgsqlDbType.Text), P(input.Priority),
            P(input.DueDate?.ToUniversalTime()), P(input.ProjectId), P(input.Status, NpgsqlDbType.Text),
        ], ct);
        return updated ?? throw new TodoNotFoundException("todo");
    }

    /// <summary>Marks the todo done (completed_at now). Completing an archived todo returns it unchanged: it is done already.</summary>
    public async Task<TodoView> CompleteTodoAsync(Guid userId, Guid id, CancellationToken ct = default) =>
        await SingleTodoAsync(TodoQueries.Complete, [P(userId), P(id)], ct)
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
        return active.Select(ToView).Concat(archived.Select(ToView)).ToList();
    }

    // ------------------------------------------------------------------------------------------------
    // Projects
    // ------------------------------------------------------------------------------------------------

    public async Task<ProjectView> CreateProjectAsync(Guid userId, string? name, string? description, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.Project(name, description, errors);
        ThrowIfAny(errors);
        var project = new Project { Id = Guid.CreateVersion7(), UserId = userId, Name = name!.Trim(), Description = description };
        db.Projects.Add(project);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return new ProjectView(project.Id, project.Name, project.Description, project.CreatedAt, project.UpdatedAt, 0, 0);
    }

    public async Task<ProjectView> RenameProjectAsync(Guid userId, Guid id, string? name, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.Project(name, null, errors);
        ThrowIfAny(errors);
        var changed = await db.Projects.Where(p => p.UserId == userId && p.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Name, name!.Trim()).SetProperty(p => p.UpdatedAt, _clock.GetUtcNow().UtcDateTime), ct);
        if (changed == 0)
        {
            throw new TodoNotFoundException("project");
        }

        return (await ListProjectsAsync(userId, ct)).Single(p => p.Id == id);
    }

    public async Task<IReadOnlyList<ProjectView>> ListProjectsAsync(Guid userId, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await ReadProjectsAsync(conn, userId, ct);
    }

    /// <summary>Deletes a project; its todos (active and archived) stay, without a project.</summary>
    public async Task DeleteProjectAsync(Guid userId, Guid id, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var del = Command(conn, "DELETE FROM projects WHERE user_id = $1 AND id = $2", [P(userId), P(id)]))
        {
            del.Transaction = tx;
            if (await del.ExecuteNonQueryAsync(ct) == 0)
            {
                throw new TodoNotFoundException("project");
            }
        }

        foreach (var sql in new[] { TodoQueries.DetachProjectActive, TodoQueries.DetachProjectArchived })
        {
            await using var detach = Command(conn, sql, [P(userId), P(id)]);
            detach.Transaction = tx;
            await detach.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }

    // ------------------------------------------------------------------------------------------------
    // AI interactions
    // ------------------------------------------------------------------------------------------------

    public async Task<AiInteractionView> RecordAiInteractionAsync(Guid userId, Guid todoId, NewAiInteraction input, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.AiInteraction(input, errors);
        ThrowIfAny(errors);

        await GetRequiredTodoAsync(userId, todoId, ct);
        var entity = NewInteraction(userId, todoId, input);
        db.AiInteractions.Add(entity);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return ToView(entity);
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
        await GetRequiredTodoAsync(userId, todoId, ct);
        var rows = await db.AiInteractions.Where(i => i.UserId == userId && i.TodoId == todoId)
            .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id).ToListAsync(ct);
        return rows.Select(ToView).ToList();
    }

    /// <summary>Stores AI-suggested subtasks and the interaction that produced them in one transaction.</summary>
    internal async Task<IReadOnlyList<TodoView>> SaveSuggestionsAsync(IReadOnlyList<TodoActive> subtasks, AiTodoInteraction interaction, CancellationToken ct)
    {
        db.TodosActive.AddRange(subtasks);
        db.AiInteractions.Add(interaction);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return subtasks.Select(ToView).ToList();
    }

    // ------------------------------------------------------------------------------------------------
    // Dashboard
    // ------------------------------------------------------------------------------------------------

    /// <summary>The user's dashboard; days and weeks (Monday to Sunday) are in UTC.</summary>
    public async Task<Dashboard> GetDashboardAsync(Guid userId, CancellationToken ct = default)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        var today = now.Date;
        var weekStart = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // One round trip for the four statements: sent one after another they cost three more network waits per
        // page, which the benchmark's API stage measured against the database-only rate of the same statements.
        await using var batch = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                BatchCommand(TodoQueries.DashboardCounts, [P(userId), P(now), P(today), P(today.AddDays(1)), P(weekStart), P(weekStart.AddDays(7))]),
                BatchCommand(TodoQueries.DashboardTopOpen, [P(userId), P(DashboardTopOpenCount)]),
                BatchCommand(TodoQueries.ProjectsWithCounts, [P(userId)]),
                BatchCommand(TodoQueries.RecentAiInteractions, [P(userId), P(DashboardRecentAiCount)]),
            },
        };
        await using var r = await batch.ExecuteReaderAsync(ct);

        await r.ReadAsync(ct);
        var byStatus = new StatusCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3));
        var (overdue, dueToday, dueThisWeek, completedThisWeek) = (r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

        await r.NextResultAsync(ct);
        var top = new List<TodoView>();
        while (await r.ReadAsync(ct))
        {
            top.Add(TodoRow(r));
        }

        await r.NextResultAsync(ct);
        var projects = new List<ProjectView>();
        while (await r.ReadAsync(ct))
        {
            projects.Add(ProjectRow(r));
        }

        await r.NextResultAsync(ct);
        var recent = new List<AiInteractionView>();
        while (await r.ReadAsync(ct))
        {
            recent.Add(new AiInteractionView(r.GetGuid(0), r.IsDBNull(1) ? null : r.GetGuid(1), r.GetString(2),
                Str(r, 3), Str(r, 4), Str(r, 5), Int(r, 6), Int(r, 7), Int(r, 8), r.GetDateTime(9)));
        }

        return new Dashboard(byStatus, overdue, dueToday, dueThisWeek, completedThisWeek, top, projects, recent);
    }

    // ------------------------------------------------------------------------------------------------
    // Users
    // ------------------------------------------------------------------------------------------------

    /// <summary>Creates the user, or returns the existing one with that email (Created false).</summary>
    public async Task<(User User, bool Created)> EnsureUserAsync(string email, string? displayName = null, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        if (InputRules.EmailProblem(email) is { } emailProblem)
        {
            errors["email"] = [emailProblem];
        }

        InputRules.Text(errors, "displayName", displayName, TextShape.SingleLine, InputRules.LabelMaxLength);
        ThrowIfAny(errors);
        email = email.Trim();

        var existing = await db.Users.Where(u => u.Email == email).FirstOrDefaultAsync(ct);
        if (existing is not null)
        {
            return (existing, false);
        }

        var user = new User { Id = Guid.CreateVersion7(), Email = email, DisplayName = displayName };
        db.Users.Add(user);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return (user, true);
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    private async Task EnsureProjectAsync(Guid userId, Guid? projectId, CancellationToken ct)
    {
        if (projectId is { } pid && !await db.Projects.AnyAsync(p => p.UserId == userId && p.Id == pid, ct))
        {
            throw new TodoNotFoundException("project");
        }
    }

    private static void ThrowIfAny(Dictionary<string, string[]> errors) => InputRules.ThrowIfAny(errors);

    private async Task<TodoView?> SingleTodoAsync(string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var rows = await ReadTodosAsync(conn, sql, parameters, ct);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<List<TodoView>> ReadTodosAsync(NpgsqlConnection conn, string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var cmd = Command(conn, sql, parameters);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<TodoView>();
        while (await r.ReadAsync(ct))
        {
            list.Add(TodoRow(r));
        }

        return list;
    }

    // Columns of TodoQueries.TodoColumns then archived_at; user_id (1) is never shown.
    private static TodoView TodoRow(NpgsqlDataReader r) =>
        new(r.GetGuid(0), Uuid(r, 2), Uuid(r, 3), r.GetString(4), Str(r, 5), r.GetString(6), r.GetInt32(7),
            Time(r, 8), Time(r, 9), r.GetBoolean(10), r.GetDateTime(11), r.GetDateTime(12), !r.IsDBNull(13), Time(r, 13));

    private static async Task<List<ProjectView>> ReadProjectsAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct)
    {
        await using var cmd = Command(conn, TodoQueries.ProjectsWithCounts, [P(userId)]);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ProjectView>();
        while (await r.ReadAsync(ct))
        {
            list.Add(ProjectRow(r));
        }

        return list;
    }

    private static ProjectView ProjectRow(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), Str(r, 2), r.GetDateTime(3), r.GetDateTime(4), r.GetInt64(5), r.GetInt64(6));

    private static NpgsqlCommand Command(NpgsqlConnection conn, string sql, NpgsqlParameter[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.AddRange(parameters);
        return cmd;
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, NpgsqlParameter[] parameters)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        cmd.Parameters.AddRange(parameters);
        return cmd;
    }

    private static NpgsqlParameter P(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };
    private static NpgsqlParameter P(Guid? value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value is { } v ? v : DBNull.Value };
    private static NpgsqlParameter P(int value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value };
    private static NpgsqlParameter P(DateTime value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DateTime.SpecifyKind(value, DateTimeKind.Utc) };

    private static NpgsqlParameter P(DateTime? value) => new()
    {
        NpgsqlDbType = NpgsqlDbType.TimestampTz,
        Value = value is { } v ? DateTime.SpecifyKind(v.ToUniversalTime(), DateTimeKind.Utc) : DBNull.Value,
    };

    private static NpgsqlParameter P(object? value, NpgsqlDbType type) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };

    private static Guid? Uuid(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetGuid(i);
    private static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    private static int? Int(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);
    private static DateTime? Time(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDateTime(i);

    internal static TodoView ToView(TodoActive t) => new(t.Id, t.ParentTodoId, t.ProjectId, t.Title, t.Description, t.Status, t.Priority,
        t.DueDate, t.CompletedAt, t.AiGenerated, t.CreatedAt, t.UpdatedAt, false, null);

    private static TodoView ToView(TodoArchived t) => new(t.Id, t.ParentTodoId, t.ProjectId, t.Title, t.Description, t.Status, t.Priority,
        t.DueDate, t.CompletedAt, t.AiGenerated, t.CreatedAt, t.UpdatedAt, true, t.ArchivedAt);

    private static AiInteractionView ToView(AiTodoInteraction i) => new(i.Id, i.TodoId, i.InteractionType, i.Prompt, i.Response, i.Model,
        i.PromptTokens, i.CompletionTokens, i.LatencyMs, i.CreatedAt);

    /// <summary>
    /// Where a page ends: in the active part (priority, created_at, id of the last row) or in the archived
    /// part (completed_at, id; no position = the start of the archived part). Opaque to clients.
    /// </summary>
    private sealed record PageCursor(bool Archived, int? Priority, DateTime? Time, Guid? Id)
    {
        public static readonly PageCursor ArchivedStart = new(true, null, null, null);

        public static PageCursor ForActive(TodoView t) => new(false, t.Priority, t.CreatedAt, t.Id);
        public static PageCursor ForArchived(TodoView t) => new(true, null, t.CompletedAt, t.Id);

        public string Encode()
        {
            var text = Archived
                ? Time is null ? "r" : string.Create(CultureInfo.InvariantCulture, $"r:{Time.Value.Ticks}:{Id:N}")
                : string.Create(CultureInfo.InvariantCulture, $"a:{Priority}:{Time!.Value.Ticks}:{Id:N}");
            return Convert.ToBase64String(Encoding.ASCII.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }

        public static PageCursor? TryParse(string value)
        {
            try
            {
                var b64 = value.Replace('-', '+').Replace('_', '/');
                b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
                var parts = Encoding.ASCII.GetString(Convert.FromBase64String(b64)).Split(':');
                return parts switch
                {
                    ["r"] => ArchivedStart,
                    ["r", var ticks, var id] => new PageCursor(true, null, UtcTicks(ticks), System.Guid.ParseExact(id, "N")),
                    ["a", var p, var ticks, var id] => new PageCursor(false, int.Parse(p, CultureInfo.InvariantCulture), UtcTicks(ticks),
                        System.Guid.ParseExact(id, "N")),
                    _ => null,
                };
            }
            catch (FormatException)
            {
                return null;
            }
            catch (OverflowException)
            {
                return null;
            }
            catch (ArgumentOutOfRangeException)
            {
                return null;
            }
        }

        private static DateTime UtcTicks(string s) => new(long.Parse(s, CultureInfo.InvariantCulture), DateTimeKind.Utc);
    }
}
