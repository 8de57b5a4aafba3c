using Npgsql;
using TodoScale.Application.Ai;
using TodoScale.Application.Data;
using TodoScale.Application.Projects;
using TodoScale.Application.Todos;
using static TodoScale.Application.Data.PreparedStatements;

namespace TodoScale.Application.Dashboards;

/// <summary>
/// A user's dashboard: the five prepared <see cref="TodoQueries"/> statements of the dashboard, in one batch
/// (see <see cref="PreparedStatements"/>). It never touches EF Core, so it takes no DbContext.
/// </summary>
public sealed class DashboardService(NpgsqlDataSource dataSource, TimeProvider? clock = null)
{
    public const int TopOpenCount = 10;
    public const int RecentAiCount = 10;

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>The user's dashboard; days and weeks (Monday to Sunday) are in UTC.</summary>
    public async Task<Dashboard> GetDashboardAsync(Guid userId, CancellationToken ct = default)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        var today = now.Date;
        var weekStart = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // One round trip for the five statements: sent one after another they cost four more network waits per
        // page, which the benchmark's API stage measured against the database-only rate of the same statements.
        await using var batch = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                BatchCommand(TodoQueries.DashboardCounts, [P(userId), P(now), P(today), P(today.AddDays(1)), P(weekStart), P(weekStart.AddDays(7))]),
                BatchCommand(TodoQueries.ArchivedCompletedCount, [P(userId), P(weekStart), P(weekStart.AddDays(7))]),
                BatchCommand(TodoQueries.DashboardTopOpen, [P(userId), P(TopOpenCount)]),
                BatchCommand(TodoQueries.ProjectsWithCounts, [P(userId)]),
                BatchCommand(TodoQueries.RecentAiInteractions, [P(userId), P(RecentAiCount)]),
            },
        };
        await using var r = await batch.ExecuteReaderAsync(ct);

        await r.ReadAsync(ct);
        var byStatus = new StatusCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3));
        var (overdue, dueToday, dueThisWeek, completedThisWeek) = (r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

        await r.NextResultAsync(ct);
        await r.ReadAsync(ct);
        completedThisWeek += r.GetInt64(0);

        await r.NextResultAsync(ct);
        var top = await ReadRowsAsync(r, TodoRows.Read, ct);
        await r.NextResultAsync(ct);
        var projects = await ReadRowsAsync(r, ProjectRows.Read, ct);
        await r.NextResultAsync(ct);
        var recent = await ReadRowsAsync(r, AiInteractionRows.Read, ct);

        return new Dashboard(byStatus, overdue, dueToday, dueThisWeek, completedThisWeek, top, projects, recent);
    }
}
