using Npgsql;
using TodoScale.Application.Data;

namespace TodoScale.Application.Projects;

/// <summary>Projects as <see cref="ProjectView"/> from a row of <see cref="TodoQueries.ProjectsWithCounts"/>.</summary>
internal static class ProjectRows
{
    /// <summary>Columns: id, name, description, created_at, updated_at, open_count, done_count.</summary>
    public static ProjectView Read(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.StringOrNull(2), r.GetDateTime(3), r.GetDateTime(4), r.GetInt64(5), r.GetInt64(6));
}
