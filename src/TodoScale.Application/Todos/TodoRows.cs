using Npgsql;
using TodoScale.Application.Data;
using TodoScale.Application.Models;

namespace TodoScale.Application.Todos;

/// <summary>Todos as <see cref="TodoView"/>: from a row of a <see cref="TodoQueries"/> statement, or from an EF Core entity.</summary>
internal static class TodoRows
{
    /// <summary>Columns of <see cref="TodoQueries.TodoColumns"/> then archived_at; user_id (1) is never shown.</summary>
    public static TodoView Read(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GuidOrNull(2), r.GuidOrNull(3), r.GetString(4), r.StringOrNull(5), r.GetString(6), r.GetInt32(7),
            r.DateTimeOrNull(8), r.DateTimeOrNull(9), r.GetBoolean(10), r.GetDateTime(11), r.GetDateTime(12), !r.IsDBNull(13), r.DateTimeOrNull(13));

    public static TodoView ToView(TodoActive t) => new(t.Id, t.ParentTodoId, t.ProjectId, t.Title, t.Description, t.Status, t.Priority,
        t.DueDate, t.CompletedAt, t.AiGenerated, t.CreatedAt, t.UpdatedAt, false, null);

    public static TodoView ToView(TodoArchived t) => new(t.Id, t.ParentTodoId, t.ProjectId, t.Title, t.Description, t.Status, t.Priority,
        t.DueDate, t.CompletedAt, t.AiGenerated, t.CreatedAt, t.UpdatedAt, true, t.ArchivedAt);
}
