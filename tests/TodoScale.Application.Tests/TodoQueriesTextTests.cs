using TodoScale.Application.Data;

namespace TodoScale.Application.Tests;

/// <summary>
/// The statements became templates (tables as placeholders) so the benchmarks can run them on their own tables;
/// the application must still send exactly the text it sent before, or the query plans proven elsewhere change.
/// </summary>
public sealed class TodoQueriesTextTests
{
    public static readonly TheoryData<string> Names = new(nameof(TodoQueries.ListActivePage), nameof(TodoQueries.ListArchivedPage), nameof(TodoQueries.DashboardTopOpen), nameof(TodoQueries.DashboardCounts), nameof(TodoQueries.ProjectsWithCounts), nameof(TodoQueries.RecentAiInteractions), nameof(TodoQueries.Complete), nameof(TodoQueries.ReopenActive), nameof(TodoQueries.ReopenArchived), nameof(TodoQueries.Update), nameof(TodoQueries.DeleteWithSubtasks), nameof(TodoQueries.DetachProjectActive), nameof(TodoQueries.DetachProjectArchived));

    private static readonly Dictionary<string, (string Rendered, string Expected)> Statements = new()
    {
        [nameof(TodoQueries.ListActivePage)] = (TodoQueries.ListActivePage, Today.ListActivePage),
        [nameof(TodoQueries.ListArchivedPage)] = (TodoQueries.ListArchivedPage, Today.ListArchivedPage),
        [nameof(TodoQueries.DashboardTopOpen)] = (TodoQueries.DashboardTopOpen, Today.DashboardTopOpen),
        [nameof(TodoQueries.DashboardCounts)] = (TodoQueries.DashboardCounts, Today.DashboardCounts),
        [nameof(TodoQueries.ProjectsWithCounts)] = (TodoQueries.ProjectsWithCounts, Today.ProjectsWithCounts),
        [nameof(TodoQueries.RecentAiInteractions)] = (TodoQueries.RecentAiInteractions, Today.RecentAiInteractions),
        [nameof(TodoQueries.Complete)] = (TodoQueries.Complete, Today.Complete),
        [nameof(TodoQueries.ReopenActive)] = (TodoQueries.ReopenActive, Today.ReopenActive),
        [nameof(TodoQueries.ReopenArchived)] = (TodoQueries.ReopenArchived, Today.ReopenArchived),
        [nameof(TodoQueries.Update)] = (TodoQueries.Update, Today.Update),
        [nameof(TodoQueries.DeleteWithSubtasks)] = (TodoQueries.DeleteWithSubtasks, Today.DeleteWithSubtasks),
        [nameof(TodoQueries.DetachProjectActive)] = (TodoQueries.DetachProjectActive, Today.DetachProjectActive),
        [nameof(TodoQueries.DetachProjectArchived)] = (TodoQueries.DetachProjectArchived, Today.DetachProjectArchived),
    };

    [Theory(Timeout = TestTimeouts.Quick)]
    [MemberData(nameof(Names))]
    public async Task the_application_sends_the_same_text_as_before_the_templates(string name)
    {
        await Task.Yield();
        var (rendered, expected) = Statements[name];
        Assert.Equal(expected, rendered);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task a_template_renders_the_same_statement_on_another_table_and_with_other_parameter_names()
    {
        await Task.Yield();
        var sql = TodoQueries.DashboardTopOpenTemplate.Render(new Dictionary<string, string> { ["todos_active"] = "todos_copy" }, n => ":p" + n);

        Assert.Equal(TodoQueries.DashboardTopOpen.Replace("FROM todos_active", "FROM todos_copy", StringComparison.Ordinal)
            .Replace("$1", ":p1", StringComparison.Ordinal).Replace("$2", ":p2", StringComparison.Ordinal), sql);
        Assert.Equal(["todos_active"], TodoQueries.DashboardTopOpenTemplate.Tables);
        Assert.Equal(2, TodoQueries.DashboardTopOpenTemplate.ParameterCount);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task rendering_a_table_the_statement_does_not_read_fails_instead_of_measuring_another_statement()
    {
        await Task.Yield();
        var e = Assert.Throws<InvalidOperationException>(() =>
            TodoQueries.ProjectsWithCountsTemplate.Render(new Dictionary<string, string> { ["todos_copy"] = "todos_copy" }));
        Assert.Contains("does not read todos_copy", e.Message);
    }

    /// <summary>TodoQueries as it was written before the templates, verbatim.</summary>
    // As sent since the Citus layout (007): every UPDATE of todos_active sets updated_at itself, "now" inside
    // COALESCE/CASE is a parameter, and projects are grouped by their key (id, user_id). Since 009 the archive page
    // is a call of todoscale_archived_page and the dashboard's archived count a statement of its own.
    private static class Today
    {
        public const string TodoColumns =
        "id, user_id, parent_todo_id, project_id, title, description, status, priority, due_date, completed_at, ai_generated, created_at, updated_at";
        public const string ListActivePage = $"""
            SELECT {TodoColumns}, NULL::timestamptz AS archived_at
            FROM todos_active
            WHERE user_id = $1
              AND ($2::text IS NULL OR status = $2::text)
              AND ($3::uuid IS NULL OR project_id = $3::uuid)
              AND ($4::timestamptz IS NULL OR due_date < $4::timestamptz)
              AND ($5::timestamptz IS NULL OR due_date >= $5::timestamptz)
              AND ($6::int IS NULL OR (priority, created_at, id) < ($6::int, $7::timestamptz, $8::uuid))
            ORDER BY priority DESC, created_at DESC, id DESC
            LIMIT $9
            """;
        public const string ListArchivedPage = $"""
            SELECT {TodoColumns}, archived_at
            FROM todoscale_archived_page($1::uuid, $2::text, $3::uuid, $4::timestamptz, $5::timestamptz, $6::timestamptz, $7::uuid, $8::int)
            """;
        public const string DashboardTopOpen = $"""
            SELECT {TodoColumns}, NULL::timestamptz AS archived_at
            FROM todos_active
            WHERE user_id = $1 AND status IN ('todo', 'in_progress')
            ORDER BY priority DESC, created_at DESC, id DESC
            LIMIT $2
            """;
        public const string DashboardCounts = """
            SELECT count(*) FILTER (WHERE status = 'todo')        AS todo,
                   count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
                   count(*) FILTER (WHERE status = 'done')        AS done,
                   count(*) FILTER (WHERE status = 'cancelled')   AS cancelled,
                   count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date < $2)                     AS overdue,
                   count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $3 AND due_date < $4) AS due_today,
                   count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $5 AND due_date < $6) AS due_this_week,
                   count(*) FILTER (WHERE status = 'done' AND completed_at >= $5 AND completed_at < $6)           AS completed_this_week
            FROM todos_active
            WHERE user_id = $1
            """;
        public const string ProjectsWithCounts = """
            SELECT p.id, p.name, p.description, p.created_at, p.updated_at,
                   count(t.id) FILTER (WHERE t.status IN ('todo', 'in_progress')) AS open_count,
                   count(t.id) FILTER (WHERE t.status = 'done')
                     + (SELECT count(*) FROM todos_archived a WHERE a.user_id = $1 AND a.project_id = p.id) AS done_count
            FROM projects p
            LEFT JOIN todos_active t ON t.user_id = $1 AND t.project_id = p.id
            WHERE p.user_id = $1
            GROUP BY p.user_id, p.id
            ORDER BY p.name, p.id
            """;
        public const string RecentAiInteractions = """
            SELECT id, todo_id, interaction_type, prompt, response, model, prompt_tokens, completion_tokens, latency_ms, created_at
            FROM ai_todo_interactions
            WHERE user_id = $1
            ORDER BY created_at DESC, id DESC
            LIMIT $2
            """;
        public const string Complete = $"""
            UPDATE todos_active SET status = 'done', completed_at = coalesce(completed_at, $3::timestamptz), updated_at = now()
            WHERE user_id = $1 AND id = $2
            RETURNING {TodoColumns}, NULL::timestamptz AS archived_at
            """;
        public const string ReopenActive = $"""
            UPDATE todos_active SET status = 'todo', completed_at = NULL, updated_at = now()
            WHERE user_id = $1 AND id = $2
            RETURNING {TodoColumns}, NULL::timestamptz AS archived_at
            """;
        public const string ReopenArchived = $"""
            WITH moved AS (
                DELETE FROM todos_archived WHERE user_id = $1 AND id = $2
                RETURNING {TodoColumns}
            )
            INSERT INTO todos_active ({TodoColumns})
            SELECT id, user_id, parent_todo_id, project_id, title, description, 'todo', priority, due_date, NULL,
                   ai_generated, created_at, now()
            FROM moved
            RETURNING {TodoColumns}, NULL::timestamptz AS archived_at
            """;
        public const string Update = $"""
            UPDATE todos_active
            SET title = $3, description = $4, priority = $5, due_date = $6, project_id = $7,
                status = coalesce($8::text, status),
                completed_at = CASE WHEN coalesce($8::text, status) = 'done' THEN coalesce(completed_at, $9::timestamptz) END,
                updated_at = now()
            WHERE user_id = $1 AND id = $2
            RETURNING {TodoColumns}, NULL::timestamptz AS archived_at
            """;
        public const string DeleteWithSubtasks = """
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM todos_active WHERE user_id = $1 AND id = $2
                UNION
                SELECT id FROM todos_archived WHERE user_id = $1 AND id = $2
                UNION
                SELECT c.id
                FROM (SELECT id, parent_todo_id FROM todos_active WHERE user_id = $1 AND parent_todo_id IS NOT NULL
                      UNION ALL
                      SELECT id, parent_todo_id FROM todos_archived WHERE user_id = $1 AND parent_todo_id IS NOT NULL) c
                JOIN tree ON c.parent_todo_id = tree.id
            ),
            deleted_active AS (
                DELETE FROM todos_active t USING tree WHERE t.user_id = $1 AND t.id = tree.id RETURNING t.id
            ),
            deleted_archived AS (
                DELETE FROM todos_archived t USING tree WHERE t.user_id = $1 AND t.id = tree.id RETURNING t.id
            )
            SELECT (SELECT count(*) FROM deleted_active) + (SELECT count(*) FROM deleted_archived)
            """;
        public const string DetachProjectActive =
        "UPDATE todos_active SET project_id = NULL, updated_at = now() WHERE user_id = $1 AND project_id = $2";
        public const string DetachProjectArchived =
        "UPDATE todos_archived SET project_id = NULL WHERE user_id = $1 AND project_id = $2";
    }
}
