using NpgsqlTypes;
using TodoScale.Application.Dashboards;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;

namespace TodoScale.Benchmarks;

public enum ApiEndpoint { List, Dashboard }

/// <summary>Which load generator produced an API stage cell.</summary>
public static class ApiGenerators
{
    /// <summary>The endpoint's statements through Npgsql (LoadDriver), no HTTP: the rate the API is compared with.</summary>
    public const string Database = "db";

    /// <summary>The in-process C# client (HttpLoadDriver).</summary>
    public const string CSharp = "csharp";

    /// <summary>wrk, out of process (WrkRunner).</summary>
    public const string Wrk = "wrk";
}

/// <summary>
/// The endpoints the API stage measures and, for each, the statements its service sends for that request with the
/// values it binds, so that the database-only run does the database work of the request and nothing else.
/// </summary>
public static class ApiEndpoints
{
    public const int ListLimit = 20;

    public static readonly IReadOnlyList<ApiEndpoint> All = [ApiEndpoint.List, ApiEndpoint.Dashboard];

    private static readonly NpgsqlDbType Tstz = NpgsqlDbType.TimestampTz;

    public static string Path(ApiEndpoint endpoint) => endpoint switch
    {
        ApiEndpoint.List => $"/api/todos?status=todo&limit={ListLimit}",
        ApiEndpoint.Dashboard => "/api/dashboard",
        _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
    };

    public static string Key(ApiEndpoint endpoint) => endpoint switch
    {
        ApiEndpoint.List => "list",
        ApiEndpoint.Dashboard => "dashboard",
        _ => endpoint.ToString().ToLowerInvariant(),
    };

    public static string Title(ApiEndpoint endpoint) => endpoint switch
    {
        ApiEndpoint.List => $"List endpoint `GET {Path(endpoint)}`",
        ApiEndpoint.Dashboard => $"Dashboard endpoint `GET {Path(endpoint)}`",
        _ => endpoint.ToString(),
    };

    /// <summary>What the database-only run sends for one request of the endpoint (user id as $1), in the service's order.</summary>
    public static string Describe(ApiEndpoint endpoint) => endpoint switch
    {
        ApiEndpoint.List => $"`TodoQueries.ListActivePage` with status `todo`, no filters, no cursor, limit {ListLimit + 1} (ListTodosAsync asks for one row more than the page to know whether a next page exists)",
        ApiEndpoint.Dashboard => $"`DashboardCounts`, `ArchivedCompletedCount`, `DashboardTopOpen` (limit {DashboardService.TopOpenCount}), `ProjectsWithCounts`, `RecentAiInteractions` (limit {DashboardService.RecentAiCount}), as GetDashboardAsync binds them and sends them: in one round trip",
        _ => endpoint.ToString(),
    };

    /// <summary>
    /// The statements of <see cref="TodoService.ListTodosAsync"/> or <see cref="DashboardService.GetDashboardAsync"/> for one
    /// request; <paramref name="now"/> stands for the request's clock (the dashboard's "overdue", "today", "this week").
    /// </summary>
    public static IReadOnlyList<BenchStatement> Statements(ApiEndpoint endpoint, DateTime now) => endpoint switch
    {
        // ListTodosAsync: $2 status, $3 project, $4 due_before, $5 due_after, $6..$8 cursor, $9 limit + 1.
        ApiEndpoint.List =>
        [
            new(TodoQueries.ListActivePageTemplate,
            [
                new(NpgsqlDbType.Text, "todo"), new(NpgsqlDbType.Uuid, null), new(Tstz, null), new(Tstz, null),
                new(NpgsqlDbType.Integer, null), new(Tstz, null), new(NpgsqlDbType.Uuid, null), new(NpgsqlDbType.Integer, ListLimit + 1),
            ]),
        ],
        ApiEndpoint.Dashboard => DashboardStatements(DateTime.SpecifyKind(now, DateTimeKind.Utc)),
        _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
    };

    // GetDashboardAsync: now, today, tomorrow, this Monday, next Monday (UTC), then the top open todos, the projects and
    // the recent AI interactions.
    private static BenchStatement[] DashboardStatements(DateTime now)
    {
        var today = now.Date;
        var weekStart = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));
        return
        [
            new(TodoQueries.DashboardCountsTemplate, [new(Tstz, now), new(Tstz, today), new(Tstz, today.AddDays(1)), new(Tstz, weekStart), new(Tstz, weekStart.AddDays(7))]),
            new(TodoQueries.ArchivedCompletedCountTemplate, [new(Tstz, weekStart), new(Tstz, weekStart.AddDays(7))]),
            new(TodoQueries.DashboardTopOpenTemplate, [new(NpgsqlDbType.Integer, DashboardService.TopOpenCount)]),
            new(TodoQueries.ProjectsWithCountsTemplate, []),
            new(TodoQueries.RecentAiInteractionsTemplate, [new(NpgsqlDbType.Integer, DashboardService.RecentAiCount)]),
        ];
    }
}
