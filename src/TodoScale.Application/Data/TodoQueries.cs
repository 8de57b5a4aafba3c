namespace TodoScale.Application.Data;

/// <summary>
/// The hand-tuned SQL of the hot paths, executed through Npgsql with positional parameters ($1, $2, ...).
/// Public so the benchmarks run exactly the statements the application runs.
///
/// Every statement that reads todos_active names <c>user_id = $1</c>: that is what lets PostgreSQL prune
/// the scan to one of the 16 hash partitions (troubleshooting #2 of the guide). The optional filters are
/// written as <c>($n IS NULL OR ...)</c>. The API prepares these statements (Npgsql automatic preparation)
/// and runs them with plan_cache_mode=force_generic_plan: one plan per connection, made without the values,
/// which prunes to the user's partition at executor start-up ("Subplans Removed: 15") and checks the
/// optional filters, the status too, as run-time conditions on idx_todos_active_user_priority_created.
/// Sent unprepared with PostgreSQL's default plan cache, they get custom plans instead, with the values
/// known, the unused filters folded away and idx_todos_active_user_status_priority used for a status.
/// Rows of every statement here have the columns of <see cref="TodoColumns"/>, in that order.
/// Every UPDATE of todos_active sets updated_at = now() itself: on Citus the trigger that did it on one node is gone
/// (Citus refuses triggers on distributed tables without citus.enable_unsafe_triggers; see 007_citus_ready_keys.sql).
/// Each statement names user_id = $1, so on Citus it is routed to the one worker holding the user (Task Count: 1).
/// Each statement is written once as a <see cref="SqlTemplate"/> (tables as placeholders); the string beside it is
/// that template rendered for the application, and the benchmarks render the same template on their tables.
/// </summary>
public static class TodoQueries
{
    /// <summary>The column list every todo-returning statement selects (archived_at is NULL for active rows).</summary>
    public const string TodoColumns =
        "id, user_id, parent_todo_id, project_id, title, description, status, priority, due_date, completed_at, ai_generated, created_at, updated_at";

    /// <summary>
    /// One page of a user's active todos in the default order priority DESC, created_at DESC, id DESC (the
    /// order of idx_todos_active_user_priority_created), after the keyset cursor ($6, $7, $8) when given.
    /// Keyset rather than OFFSET: a todo added while a client pages never shifts the rows of later pages,
    /// so every todo that existed when paging began is returned exactly once.
    /// $1 user_id uuid, $2 status text|null, $3 project_id uuid|null, $4 due_before timestamptz|null,
    /// $5 due_after timestamptz|null, $6 after_priority int|null, $7 after_created_at timestamptz|null,
    /// $8 after_id uuid|null, $9 limit int.
    /// </summary>
    public static readonly SqlTemplate ListActivePageTemplate = new($$"""
        SELECT {{TodoColumns}}, NULL::timestamptz AS archived_at
        FROM {todos_active}
        WHERE user_id = $1
          AND ($2::text IS NULL OR status = $2::text)
          AND ($3::uuid IS NULL OR project_id = $3::uuid)
          AND ($4::timestamptz IS NULL OR due_date < $4::timestamptz)
          AND ($5::timestamptz IS NULL OR due_date >= $5::timestamptz)
          AND ($6::int IS NULL OR (priority, created_at, id) < ($6::int, $7::timestamptz, $8::uuid))
        ORDER BY priority DESC, created_at DESC, id DESC
        LIMIT $9
        """);

    /// <inheritdoc cref="ListActivePageTemplate"/>
    public static readonly string ListActivePage = ListActivePageTemplate.Sql;

    /// <summary>
    /// One page of a user's archived todos, newest completion first, after the keyset cursor ($6, $7) when given. With
    /// include_archived the list shows every active todo first, then these. A call of todoscale_archived_page
    /// (009_archive_constant_cost.sql), not a SELECT on todos_archived: a generic plan over the monthly partitions
    /// locks and opens every month before it prunes, so the page cost grew with history (16 ms at 293 months against
    /// 0.45 ms at 12); the function reads a user's newest 100 rows from todos_archived_recent (one index scan) and
    /// only the months a page past them needs, with a plan made for those months.
    /// $1 user_id, $2 status|null, $3 project_id|null, $4 due_before|null, $5 due_after|null,
    /// $6 after_completed_at timestamptz|null, $7 after_id uuid|null, $8 limit.
    /// </summary>
    public static readonly SqlTemplate ListArchivedPageTemplate = new($$"""
        SELECT {{TodoColumns}}, archived_at
        FROM todoscale_archived_page($1::uuid, $2::text, $3::uuid, $4::timestamptz, $5::timestamptz, $6::timestamptz, $7::uuid, $8::int)
        """);

    /// <inheritdoc cref="ListArchivedPageTemplate"/>
    public static readonly string ListArchivedPage = ListArchivedPageTemplate.Sql;

    /// <summary>The dashboard's top open todos. $1 user_id, $2 limit.</summary>
    public static readonly SqlTemplate DashboardTopOpenTemplate = new($$"""
        SELECT {{TodoColumns}}, NULL::timestamptz AS archived_at
        FROM {todos_active}
        WHERE user_id = $1 AND status IN ('todo', 'in_progress')
        ORDER BY priority DESC, created_at DESC, id DESC
        LIMIT $2
        """);

    /// <inheritdoc cref="DashboardTopOpenTemplate"/>
    public static readonly string DashboardTopOpen = DashboardTopOpenTemplate.Sql;

    /// <summary>
    /// The dashboard's counters in one pass over the user's partition. Open means todo or in_progress.
    /// $1 user_id, $2 now, $3 start of today, $4 start of tomorrow, $5 start of this week (Monday),
    /// $6 start of next week (all UTC). Columns: todo, in_progress, done, cancelled, overdue, due_today,
    /// due_this_week, completed_this_week (of the active todos: the archive's are <see cref="ArchivedCompletedCount"/>,
    /// a statement of its own because on Citus this one runs on the user's worker, where no function can read the
    /// archive).
    /// </summary>
    public static readonly SqlTemplate DashboardCountsTemplate = new("""
        SELECT count(*) FILTER (WHERE status = 'todo')        AS todo,
               count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
               count(*) FILTER (WHERE status = 'done')        AS done,
               count(*) FILTER (WHERE status = 'cancelled')   AS cancelled,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date < $2)                     AS overdue,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $3 AND due_date < $4) AS due_today,
               count(*) FILTER (WHERE status IN ('todo', 'in_progress') AND due_date >= $5 AND due_date < $6) AS due_this_week,
               count(*) FILTER (WHERE status = 'done' AND completed_at >= $5 AND completed_at < $6)           AS completed_this_week
        FROM {todos_active}
        WHERE user_id = $1
        """);

    /// <inheritdoc cref="DashboardCountsTemplate"/>
    public static readonly string DashboardCounts = DashboardCountsTemplate.Sql;

    /// <summary>
    /// How many of a user's archived todos were completed in [$2, $3) (the dashboard's "completed this week", archive
    /// part): todoscale_archived_completed_count (009) plans the count with the window, so it reads the one or two
    /// months the window covers, however many months the archive has. $1 user_id, $2 from, $3 to.
    /// </summary>
    public static readonly SqlTemplate ArchivedCompletedCountTemplate = new(
        "SELECT todoscale_archived_completed_count($1::uuid, $2::timestamptz, $3::timestamptz) AS completed_archived");

    /// <inheritdoc cref="ArchivedCompletedCountTemplate"/>
    public static readonly string ArchivedCompletedCount = ArchivedCompletedCountTemplate.Sql;

    /// <summary>
    /// A user's archived todo by id (no row: none archived with that id). todoscale_archived_todo (009) finds its month
    /// in todos_archived_locator and reads that month only: the primary key (id, completed_at, user_id) is one index per
    /// month, which a lookup by id alone would probe in every month. $1 user_id, $2 id.
    /// </summary>
    public static readonly SqlTemplate ArchivedByIdTemplate = new($$"""
        SELECT {{TodoColumns}}, archived_at
        FROM todoscale_archived_todo($1::uuid, $2::uuid)
        """);

    /// <inheritdoc cref="ArchivedByIdTemplate"/>
    public static readonly string ArchivedById = ArchivedByIdTemplate.Sql;

    /// <summary>
    /// A user's projects with open and done counts (done includes archived todos). Grouped by the primary key
    /// (id, user_id) of 007, which lets the other columns of p be selected ungrouped.
    /// $1 user_id. Columns: id, name, description, created_at, updated_at, open_count, done_count.
    /// </summary>
    public static readonly SqlTemplate ProjectsWithCountsTemplate = new("""
        SELECT p.id, p.name, p.description, p.created_at, p.updated_at,
               count(t.id) FILTER (WHERE t.status IN ('todo', 'in_progress')) AS open_count,
               count(t.id) FILTER (WHERE t.status = 'done')
                 + (SELECT count(*) FROM {todos_archived} a WHERE a.user_id = $1 AND a.project_id = p.id) AS done_count
        FROM projects p
        LEFT JOIN {todos_active} t ON t.user_id = $1 AND t.project_id = p.id
        WHERE p.user_id = $1
        GROUP BY p.user_id, p.id
        ORDER BY p.name, p.id
        """);

    /// <inheritdoc cref="ProjectsWithCountsTemplate"/>
    public static readonly string ProjectsWithCounts = ProjectsWithCountsTemplate.Sql;

    /// <summary>A user's latest AI interactions. $1 user_id, $2 limit.</summary>
    public static readonly SqlTemplate RecentAiInteractionsTemplate = new("""
        SELECT id, todo_id, interaction_type, prompt, response, model, prompt_tokens, completion_tokens, latency_ms, created_at
        FROM ai_todo_interactions
        WHERE user_id = $1
        ORDER BY created_at DESC, id DESC
        LIMIT $2
        """);

    /// <inheritdoc cref="RecentAiInteractionsTemplate"/>
    public static readonly string RecentAiInteractions = RecentAiInteractionsTemplate.Sql;

    /// <summary>
    /// Marks an active todo done, keeping the first completion time. $1 user_id, $2 id, $3 now (timestamptz): a
    /// parameter, not now(), because Citus refuses a non-immutable function inside COALESCE/CASE of a distributed
    /// UPDATE ("non-IMMUTABLE functions are not allowed in CASE or COALESCE statements").
    /// </summary>
    public static readonly SqlTemplate CompleteTemplate = new($$"""
        UPDATE {todos_active} SET status = 'done', completed_at = coalesce(completed_at, $3::timestamptz), updated_at = now()
        WHERE user_id = $1 AND id = $2
        RETURNING {{TodoColumns}}, NULL::timestamptz AS archived_at
        """);

    /// <inheritdoc cref="CompleteTemplate"/>
    public static readonly string Complete = CompleteTemplate.Sql;

    /// <summary>Reopens an active todo. $1 user_id, $2 id.</summary>
    public static readonly SqlTemplate ReopenActiveTemplate = new($$"""
        UPDATE {todos_active} SET status = 'todo', completed_at = NULL, updated_at = now()
        WHERE user_id = $1 AND id = $2
        RETURNING {{TodoColumns}}, NULL::timestamptz AS archived_at
        """);

    /// <inheritdoc cref="ReopenActiveTemplate"/>
    public static readonly string ReopenActive = ReopenActiveTemplate.Sql;

    /// <summary>
    /// Moves an archived todo back into todos_active as open: delete and insert in one statement, so one
    /// transaction; a reader sees it in exactly one of the two tables, and a failure leaves it archived.
    /// $1 user_id, $2 id.
    /// </summary>
    public static readonly SqlTemplate ReopenArchivedTemplate = new($$"""
        WITH moved AS (
            DELETE FROM {todos_archived} WHERE user_id = $1 AND id = $2
            RETURNING {{TodoColumns}}
        )
        INSERT INTO {todos_active} ({{TodoColumns}})
        SELECT id, user_id, parent_todo_id, project_id, title, description, 'todo', priority, due_date, NULL,
               ai_generated, created_at, now()
        FROM moved
        RETURNING {{TodoColumns}}, NULL::timestamptz AS archived_at
        """);

    /// <inheritdoc cref="ReopenArchivedTemplate"/>
    public static readonly string ReopenArchived = ReopenArchivedTemplate.Sql;

    /// <summary>
    /// Replaces the editable fields of an active todo. A status other than done clears completed_at; done
    /// keeps the first completion time. $1 user_id, $2 id, $3 title, $4 description, $5 priority,
    /// $6 due_date, $7 project_id, $8 status|null (null keeps the status), $9 now (timestamptz; see <see cref="Complete"/>).
    /// </summary>
    public static readonly SqlTemplate UpdateTemplate = new($$"""
        UPDATE {todos_active}
        SET title = $3, description = $4, priority = $5, due_date = $6, project_id = $7,
            status = coalesce($8::text, status),
            completed_at = CASE WHEN coalesce($8::text, status) = 'done' THEN coalesce(completed_at, $9::timestamptz) END,
            updated_at = now()
        WHERE user_id = $1 AND id = $2
        RETURNING {{TodoColumns}}, NULL::timestamptz AS archived_at
        """);

    /// <inheritdoc cref="UpdateTemplate"/>
    public static readonly string Update = UpdateTemplate.Sql;

    /// <summary>
    /// Deletes a todo and, recursively, its subtasks, active or archived (the legacy schema's
    /// ON DELETE CASCADE, which no foreign key can give across partitions). One statement, so all or
    /// nothing. Returns the number of todos deleted (0: not found for this user). $1 user_id, $2 id.
    /// </summary>
    public static readonly SqlTemplate DeleteWithSubtasksTemplate = new("""
        WITH RECURSIVE tree(id) AS (
            SELECT id FROM {todos_active} WHERE user_id = $1 AND id = $2
            UNION
            SELECT id FROM {todos_archived} WHERE user_id = $1 AND id = $2
            UNION
            SELECT c.id
            FROM (SELECT id, parent_todo_id FROM {todos_active} WHERE user_id = $1 AND parent_todo_id IS NOT NULL
                  UNION ALL
                  SELECT id, parent_todo_id FROM {todos_archived} WHERE user_id = $1 AND parent_todo_id IS NOT NULL) c
            JOIN tree ON c.parent_todo_id = tree.id
        ),
        deleted_active AS (
            DELETE FROM {todos_active} t USING tree WHERE t.user_id = $1 AND t.id = tree.id RETURNING t.id
        ),
        deleted_archived AS (
            DELETE FROM {todos_archived} t USING tree WHERE t.user_id = $1 AND t.id = tree.id RETURNING t.id
        )
        SELECT (SELECT count(*) FROM deleted_active) + (SELECT count(*) FROM deleted_archived)
        """);

    /// <inheritdoc cref="DeleteWithSubtasksTemplate"/>
    public static readonly string DeleteWithSubtasks = DeleteWithSubtasksTemplate.Sql;

    /// <summary>Detaches a user's todos from a project that is being deleted. $1 user_id, $2 project_id.</summary>
    public static readonly SqlTemplate DetachProjectActiveTemplate = new(
        "UPDATE {todos_active} SET project_id = NULL, updated_at = now() WHERE user_id = $1 AND project_id = $2");

    /// <inheritdoc cref="DetachProjectActiveTemplate"/>
    public static readonly string DetachProjectActive = DetachProjectActiveTemplate.Sql;

    /// <summary>As <see cref="DetachProjectActive"/> for archived todos; updated_at keeps its value (history).</summary>
    public static readonly SqlTemplate DetachProjectArchivedTemplate = new(
        "UPDATE {todos_archived} SET project_id = NULL WHERE user_id = $1 AND project_id = $2");

    /// <inheritdoc cref="DetachProjectArchivedTemplate"/>
    public static readonly string DetachProjectArchived = DetachProjectArchivedTemplate.Sql;
}
