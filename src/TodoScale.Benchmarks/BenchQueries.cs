namespace TodoScale.Benchmarks;

/// <summary>Which table layout a statement is written for.</summary>
public enum LayoutKind
{
    /// <summary>One plain todos table (the legacy table, or a copy of it with other indexes).</summary>
    SingleTable,
    /// <summary>todos_active + todos_archived.</summary>
    TodoScale,
}

public enum QueryKind { Top20, Dashboard, ListWithArchive }

/// <summary>
/// The statements the application sends for each benchmarked page, as prepared statements with the user id as $1.
/// These are the benchmark's own copies, written to match the guide (top-20 open todos, dashboard, list with
/// the archive). TODO(merge): replace with TodoScale.Application's Data/TodoQueries when it lands on main, so the
/// benchmark measures exactly what the application sends.
/// A dashboard is several statements sent in one round trip (one NpgsqlBatch).
/// </summary>
public static class BenchQueries
{
    private const string Columns =
        "id, user_id, parent_todo_id, project_id, title, description, status, priority, due_date, completed_at, ai_generated, created_at, updated_at";

    public static IReadOnlyList<string> Statements(QueryKind query, LayoutKind layout, string table) => query switch
    {
        QueryKind.Top20 => [Top20(layout == LayoutKind.TodoScale ? "todos_active" : table)],
        QueryKind.Dashboard => Dashboard(layout == LayoutKind.TodoScale ? "todos_active" : table),
        QueryKind.ListWithArchive => [layout == LayoutKind.TodoScale ? ListTodoScale : ListSingle(table)],
        _ => throw new ArgumentOutOfRangeException(nameof(query)),
    };

    // The table names below come from the fixed set of layouts in BenchLayouts, never from input.
    private static string Top20(string table) => $"""
        SELECT {Columns} FROM {table}
        WHERE user_id = $1 AND status = 'todo'
        ORDER BY priority DESC, created_at DESC, id DESC
        LIMIT 20
        """;

    private static string[] Dashboard(string table) =>
    [
        $"""
        SELECT count(*) FILTER (WHERE status = 'todo') AS todo,
               count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
               count(*) FILTER (WHERE due_date < now()) AS overdue,
               count(*) FILTER (WHERE due_date >= date_trunc('day', now())
                                  AND due_date < date_trunc('day', now()) + interval '1 day') AS due_today,
               count(*) FILTER (WHERE due_date >= now()
                                  AND due_date < date_trunc('week', now()) + interval '1 week') AS due_this_week
        FROM {table}
        WHERE user_id = $1 AND status IN ('todo', 'in_progress')
        """,
        $"""
        SELECT count(*) AS completed_this_week FROM {table}
        WHERE user_id = $1 AND status = 'done' AND completed_at >= date_trunc('week', now())
        """,
        $"""
        SELECT id, title, status, priority, due_date FROM {table}
        WHERE user_id = $1 AND status IN ('todo', 'in_progress') AND due_date IS NOT NULL
        ORDER BY due_date, id
        LIMIT 5
        """,
    ];

    private static string ListSingle(string table) => $"""
        SELECT {Columns} FROM {table}
        WHERE user_id = $1
        ORDER BY created_at DESC, id DESC
        LIMIT 50
        """;

    // Each half is limited on its own so that each side reads at most one page through its (user_id, created_at)
    // index, then the two pages are merged.
    private const string ListTodoScale = $"""
        SELECT {Columns} FROM (
            (SELECT {Columns} FROM todos_active WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50)
            UNION ALL
            (SELECT {Columns} FROM todos_archived WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50)
        ) page
        ORDER BY created_at DESC, id DESC
        LIMIT 50
        """;

    public static string Title(QueryKind query) => query switch
    {
        QueryKind.Top20 => "Top-20 open todos",
        QueryKind.Dashboard => "Dashboard",
        QueryKind.ListWithArchive => "List including the archive",
        _ => query.ToString(),
    };

    public static string Key(QueryKind query) => query switch
    {
        QueryKind.Top20 => "top20",
        QueryKind.Dashboard => "dashboard",
        QueryKind.ListWithArchive => "list",
        _ => query.ToString().ToLowerInvariant(),
    };
}
