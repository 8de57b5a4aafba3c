using NpgsqlTypes;
using TodoScale.Application.Dashboards;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;

namespace TodoScale.Benchmarks;

/// <summary>Which table layout a statement is written for.</summary>
public enum LayoutKind
{
    /// <summary>One plain todos table (the legacy table, or a copy of it with other indexes).</summary>
    SingleTable,
    /// <summary>todos_active + todos_archived.</summary>
    TodoScale,
}

/// <summary>
/// The pages measured. <see cref="ListSameAnswer"/> is measured by the history-growth stage only: the list including the
/// archive with each user's archive page as long as it was in the original history, so that small and grown history
/// return the same number of rows and the ratio is the cost of the months alone (the application's page,
/// <see cref="ListWithArchive"/>, fills up as a user's history grows, and every layout pays for the rows it returns).
/// </summary>
public enum QueryKind { Top20, Dashboard, ListWithArchive, ArchivedById, ListSameAnswer }

/// <summary>
/// One value bound to a statement's parameter $2, $3, ... ($1 is always the user id): the same for every user, or, with
/// <paramref name="PerUser"/>, each user's own (an archived todo's id for the GET by id, a page length).
/// </summary>
public readonly record struct BenchArg(NpgsqlDbType Type, object? Value, IReadOnlyDictionary<Guid, object>? PerUser = null);

/// <summary>
/// One statement and the values of its parameters after $1: a template (the application's own, from <see cref="TodoQueries"/>,
/// or a baseline's) and the tables it runs on instead of its own, rendered through <see cref="SqlTemplate"/> only.
/// </summary>
public sealed record BenchStatement(SqlTemplate Template, IReadOnlyList<BenchArg> Args, IReadOnlyDictionary<string, string>? Tables = null)
{
    /// <summary>The text sent with positional parameters ($1 the user).</summary>
    public string Sql => Template.Render(Tables);

    /// <summary>The same statement with each parameter written by <paramref name="parameter"/> (pgbench's variables and literals).</summary>
    public string Render(Func<int, string> parameter) => Template.Render(Tables, parameter);
}

/// <summary>
/// The values the statements depend on besides the user: the clock the dashboard counts against (fixed for the whole
/// run, so that every layout counts "overdue" and "this week" against the same instant), and the latest completion
/// time that was archived: on a single table, "not archived" means done later than that (archival moves every done
/// todo completed before its cutoff), which gives the baselines the application's meaning of its active set.
/// </summary>
public sealed record BenchQueryContext(DateTime Now, DateTime ArchivedThrough)
{
    /// <summary>
    /// One archived todo of each benchmark user who has one (user → todo id), picked once, before the history grows:
    /// the GET by id asks for the same todo at 12 and at 300 months. Users without an archived todo are not measured
    /// by that query.
    /// </summary>
    public IReadOnlyDictionary<Guid, Guid> ArchivedTodos { get; init; } = new Dictionary<Guid, Guid>();

    /// <summary>
    /// How many rows the first page of each benchmark user's archive held in the original history (user → rows, at most
    /// the page), counted once before the history grows: <see cref="QueryKind.ListSameAnswer"/> asks for that many at 12
    /// and at 300 months.
    /// </summary>
    public IReadOnlyDictionary<Guid, int> ArchivePageRows { get; init; } = new Dictionary<Guid, int>();

    /// <summary>The users <paramref name="query"/> can be measured for: all, or those the run has the query's per-user value for.</summary>
    public Guid[] UsersFor(QueryKind query, IEnumerable<Guid> users) => query switch
    {
        QueryKind.ArchivedById => users.Where(ArchivedTodos.ContainsKey).ToArray(),
        QueryKind.ListSameAnswer => users.Where(ArchivePageRows.ContainsKey).ToArray(),
        _ => users.ToArray(),
    };

    public static readonly BenchQueryContext Default = At(DateTime.UtcNow, null);

    public static BenchQueryContext At(DateTime now, DateTime? archivedThrough)
    {
        now = DateTime.SpecifyKind(now, DateTimeKind.Utc);
        return new(now, archivedThrough is { } a ? DateTime.SpecifyKind(a.ToUniversalTime(), DateTimeKind.Utc) : now.AddDays(-30));
    }
}

/// <summary>
/// The statements measured for each benchmarked page, with the user id as $1. For the TodoScale layout these are
/// the application's own statements (<see cref="TodoQueries"/>) with the values the application binds, so the
/// benchmark measures exactly what the application sends. The single-table baselines run the same statements
/// against their table where the statement only reads open todos (top-20, top open), and otherwise statements
/// with the same answer (the answer check of every run compares them, except archived_at, which only the
/// archive has). A dashboard or a list with the archive is several statements sent in one round trip (one NpgsqlBatch).
/// </summary>
public static class BenchQueries
{
    private const int Top20Limit = 20;

    // The application asks for one row more than the page to know whether a next page exists.
    internal const int ListLimit = TodoListQuery.DefaultLimit + 1;

    private static readonly NpgsqlDbType Tstz = NpgsqlDbType.TimestampTz;

    public static IReadOnlyList<BenchStatement> Statements(QueryKind query, LayoutKind layout, string table, BenchQueryContext? context = null)
    {
        var ctx = context ?? BenchQueryContext.Default;
        var single = layout == LayoutKind.SingleTable;
        return query switch
        {
            QueryKind.Top20 => [OnTable(TodoQueries.ListActivePageTemplate, ActivePageArgs("todo", Top20Limit), single ? table : null)],
            QueryKind.Dashboard =>
            [
                single
                    ? new(DashboardCountsSingle, [.. DashboardArgs(ctx), new(Tstz, ctx.ArchivedThrough)], Baseline(table))
                    : new(TodoQueries.DashboardCountsTemplate, DashboardArgs(ctx)),
                single
                    ? new(ArchivedCompletedCountSingle, [.. WeekArgs(ctx), new(Tstz, ctx.ArchivedThrough)], Baseline(table))
                    : new(TodoQueries.ArchivedCompletedCountTemplate, WeekArgs(ctx)),
                OnTable(TodoQueries.DashboardTopOpenTemplate, [new(NpgsqlDbType.Integer, DashboardService.TopOpenCount)], single ? table : null),
            ],
            QueryKind.ListWithArchive => single
                ?
                [
                    new(ListActiveSingle, [.. ActivePageArgs(null, ListLimit), new(Tstz, ctx.ArchivedThrough)], Baseline(table)),
                    new(ListArchivedSingle, [.. ArchivedPageArgs(), new(Tstz, ctx.ArchivedThrough)], Baseline(table)),
                ]
                :
                [
                    new(TodoQueries.ListActivePageTemplate, ActivePageArgs(null, ListLimit)),
                    new(TodoQueries.ListArchivedPageTemplate, ArchivedPageArgs()),
                ],
            QueryKind.ListSameAnswer => single
                ?
                [
                    new(ListActiveSingle, [.. ActivePageArgs(null, ListLimit), new(Tstz, ctx.ArchivedThrough)], Baseline(table)),
                    new(ListArchivedSingle, [.. ArchivedPageArgs(PerUser(ctx.ArchivePageRows)), new(Tstz, ctx.ArchivedThrough)], Baseline(table)),
                ]
                :
                [
                    new(TodoQueries.ListActivePageTemplate, ActivePageArgs(null, ListLimit)),
                    new(TodoQueries.ListArchivedPageTemplate, ArchivedPageArgs(PerUser(ctx.ArchivePageRows))),
                ],
            QueryKind.ArchivedById => single
                ? [new(ByIdSingle, [new(NpgsqlDbType.Uuid, null, PerUser(ctx.ArchivedTodos))], Baseline(table))]
                : [new(TodoQueries.ArchivedByIdTemplate, [new(NpgsqlDbType.Uuid, null, PerUser(ctx.ArchivedTodos))])],
            _ => throw new ArgumentOutOfRangeException(nameof(query)),
        };
    }

    // $2 status, $3 project, $4 due_before, $5 due_after, $6..$8 keyset cursor (first page: none), $9 limit.
    private static BenchArg[] ActivePageArgs(string? status, int limit) =>
    [
        new(NpgsqlDbType.Text, status), new(NpgsqlDbType.Uuid, null), new(Tstz, null), new(Tstz, null),
        new(NpgsqlDbType.Integer, null), new(Tstz, null), new(NpgsqlDbType.Uuid, null), new(NpgsqlDbType.Integer, limit),
    ];

    // $2 status, $3 project, $4 due_before, $5 due_after, $6..$7 keyset cursor (the archive's first page), $8 limit
    // (the application's, or each user's own).
    private static BenchArg[] ArchivedPageArgs(IReadOnlyDictionary<Guid, object>? perUserLimit = null) =>
    [
        new(NpgsqlDbType.Text, null), new(NpgsqlDbType.Uuid, null), new(Tstz, null), new(Tstz, null),
        new(Tstz, null), new(NpgsqlDbType.Uuid, null), new(NpgsqlDbType.Integer, ListLimit, perUserLimit),
    ];

    private static Dictionary<Guid, object> PerUser<T>(IReadOnlyDictionary<Guid, T> values) where T : notnull =>
        values.ToDictionary(v => v.Key, v => (object)v.Value);

    // As DashboardService.GetDashboardAsync binds them: now, today, tomorrow, this Monday, next Monday (UTC).
    private static BenchArg[] DashboardArgs(BenchQueryContext ctx)
    {
        var today = ctx.Now.Date;
        var weekStart = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));
        return [new(Tstz, ctx.Now), new(Tstz, today), new(Tstz, today.AddDays(1)), new(Tstz, weekStart), new(Tstz, weekStart.AddDays(7))];
    }

    // As DashboardService.GetDashboardAsync binds the archive's completed count: this Monday, next Monday (UTC).
    private static BenchArg[] WeekArgs(BenchQueryContext ctx) => DashboardArgs(ctx)[3..];

    // The table names come from the fixed set of layouts in BenchLayouts, never from input. A statement that stops
    // reading todos_active makes SqlTemplate.Render throw rather than measure something else on the baseline.
    private static BenchStatement OnTable(SqlTemplate template, IReadOnlyList<BenchArg> args, string? table) =>
        table is null ? new(template, args)
        : template.Tables.SequenceEqual(["todos_active"]) ? new(template, args, new Dictionary<string, string> { ["todos_active"] = table })
        : throw new InvalidOperationException("the application's statement no longer reads todos_active alone; adapt the baseline");

    private static Dictionary<string, string> Baseline(string table) => new() { ["todos"] = table };

    // The single-table baselines below are not the application's statements (a single table has no archive to
    // read): they give the same answer, which the answer check of every run compares (except archived_at).

    // TodoQueries.DashboardCounts on one table: "done" and completed_this_week count the todos not archived ($7, see
    // BenchQueryContext); ArchivedCompletedCountSingle counts the others, as the application's two statements do.
    private static readonly SqlTemplate DashboardCountsSingle = new("""
        SELECT count(*) FILTER (WHERE status = 'todo')        AS todo,
               count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
               count(*) FILTER (WHERE status = 'done' AND (completed_at IS NULL OR completed_at > $7)) AS done,
               count(*) FILTER (WHERE status = 'cancelled')   AS cancelled,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date < $2)                     AS overdue,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $3 AND due_date < $4) AS due_today,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $5 AND due_date < $6) AS due_this_week,
               count(*) FILTER (WHERE status = 'done' AND completed_at >= $5 AND completed_at < $6 AND completed_at > $7) AS completed_this_week
        FROM {todos}
        WHERE user_id = $1
        """);

    // TodoQueries.ArchivedCompletedCount on one table: the done todos of the week that archival would have moved ($4).
    private static readonly SqlTemplate ArchivedCompletedCountSingle = new("""
        SELECT count(*) AS completed_archived
        FROM {todos}
        WHERE user_id = $1 AND status = 'done' AND completed_at >= $2 AND completed_at < $3 AND completed_at <= $4
        """);

    // TodoQueries.ListActivePage on one table: every todo not archived ($10).
    private static readonly SqlTemplate ListActiveSingle = new($$"""
        SELECT {{TodoQueries.TodoColumns}}, NULL::timestamptz AS archived_at
        FROM {todos}
        WHERE user_id = $1
          AND ($2::text IS NULL OR status = $2::text)
          AND ($3::uuid IS NULL OR project_id = $3::uuid)
          AND ($4::timestamptz IS NULL OR due_date < $4::timestamptz)
          AND ($5::timestamptz IS NULL OR due_date >= $5::timestamptz)
          AND ($6::int IS NULL OR (priority, created_at, id) < ($6::int, $7::timestamptz, $8::uuid))
          AND NOT ((status = 'done' AND completed_at <= $10::timestamptz) IS TRUE)
        ORDER BY priority DESC, created_at DESC, id DESC
        LIMIT $9
        """);

    // TodoQueries.ListArchivedPage on one table: the done todos archival would have moved ($9).
    private static readonly SqlTemplate ListArchivedSingle = new($$"""
        SELECT {{TodoQueries.TodoColumns}}, NULL::timestamptz AS archived_at
        FROM {todos}
        WHERE user_id = $1
          AND status = 'done' AND completed_at <= $9::timestamptz
          AND ($2::text IS NULL OR status = $2::text)
          AND ($3::uuid IS NULL OR project_id = $3::uuid)
          AND ($4::timestamptz IS NULL OR due_date < $4::timestamptz)
          AND ($5::timestamptz IS NULL OR due_date >= $5::timestamptz)
          AND ($6::timestamptz IS NULL OR (completed_at, id) < ($6::timestamptz, $7::uuid))
        ORDER BY completed_at DESC, id DESC
        LIMIT $8
        """);

    // TodoQueries.ArchivedById on one table: the todo is found by user and id wherever it lies (the id is archived, so
    // its row is the archive's).
    private static readonly SqlTemplate ByIdSingle = new($$"""
        SELECT {{TodoQueries.TodoColumns}}, NULL::timestamptz AS archived_at
        FROM {todos}
        WHERE user_id = $1 AND id = $2::uuid
        """);

    public static string Title(QueryKind query) => query switch
    {
        QueryKind.ArchivedById => "Archived todo by id",
        QueryKind.Top20 => "Top-20 open todos",
        QueryKind.Dashboard => "Dashboard",
        QueryKind.ListWithArchive => "List including the archive",
        QueryKind.ListSameAnswer => "List including the archive, same answer size",
        _ => query.ToString(),
    };

    public static string Key(QueryKind query) => query switch
    {
        QueryKind.Top20 => "top20",
        QueryKind.Dashboard => "dashboard",
        QueryKind.ListWithArchive => "list",
        QueryKind.ArchivedById => "byid",
        QueryKind.ListSameAnswer => "list-same",
        _ => query.ToString().ToLowerInvariant(),
    };
}
