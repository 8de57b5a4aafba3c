using TodoScale.Database.Migration;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// 009's bookkeeping of the archive (months, locator, each user's newest rows) is paused while the backfill fills the
/// archive and rebuilt after it (migration_start, migration_index_plan): exactly what the triggers would have kept, and
/// never a cutover without it.
/// </summary>
public sealed class DeferredArchiveBookkeepingTests(PostgresServer server)
{
    // Each query counts the differences between a bookkeeping table and what todos_archived says it must hold.
    private const string LocatorDifferences = """
        SELECT count(*) FROM ((SELECT user_id, id, completed_at FROM todos_archived EXCEPT SELECT user_id, id, completed_at FROM todos_archived_locator)
                              UNION ALL (SELECT user_id, id, completed_at FROM todos_archived_locator EXCEPT SELECT user_id, id, completed_at FROM todos_archived)) d
        """;

    private const string MonthDifferences = """
        SELECT count(*) FROM (SELECT user_id, todoscale_month_start(completed_at) AS month, count(*) AS rows FROM todos_archived GROUP BY 1, 2) a
        FULL JOIN todos_archived_months m ON m.user_id = a.user_id AND m.month = a.month
        WHERE a.rows IS DISTINCT FROM m.rows
        """;

    // Whole rows: a recent row is what the archive page shows.
    private const string RecentColumns =
        "user_id, id, parent_todo_id, project_id, title, description, status, priority, due_date, completed_at, ai_generated, created_at, updated_at, archived_at";

    private const string RecentDifferences = $"""
        WITH newest AS (SELECT {RecentColumns} FROM (SELECT a.*, row_number() OVER (PARTITION BY user_id ORDER BY completed_at DESC, id DESC) AS n
                                                     FROM todos_archived a) x WHERE n <= todoscale_archived_recent_rows())
        SELECT count(*) FROM ((SELECT * FROM newest EXCEPT SELECT {RecentColumns} FROM todos_archived_recent)
                              UNION ALL (SELECT {RecentColumns} FROM todos_archived_recent EXCEPT SELECT * FROM newest)) d
        """;

    private const string Resume = "SELECT todoscale_archive_bookkeeping_resume()";

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_archive_bookkeeping_is_paused_while_the_backfill_fills_the_archive_and_rebuilt_exactly_before_cutover()
    {
        var cs = await CreateAsync(server, "deferbk", rows: 4_000);
        await using var conn = await server.OpenAsync(cs);

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500, MaxBatches = 3 });

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_paused()"));
        Assert.True(await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived") > 0);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT (SELECT count(*) FROM todos_archived_locator) + (SELECT count(*) FROM todos_archived_months) + (SELECT count(*) FROM todos_archived_recent)"));
        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));

        // Mirrored writes while it is paused: one todo archived, one archived todo deleted, one archived todo reopened.
        var archivedIds = await ScalarAsync<Guid[]>(conn, "SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM todos_archived ORDER BY id LIMIT 2) k");
        await ExecAsync(conn, "UPDATE todos SET status = 'done', completed_at = now() - interval '90 days' WHERE id = (SELECT id FROM todos WHERE status <> 'done' ORDER BY ctid DESC LIMIT 1)");
        await ExecAsync(conn, "DELETE FROM todos WHERE id = $1", archivedIds[0]);
        await ExecAsync(conn, "UPDATE todos SET status = 'todo', completed_at = NULL WHERE id = $1", archivedIds[1]);

        var result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });

        Assert.True(result.Completed);
        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_paused()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT migration_index_steps_left()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, MonthDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
        Assert.Contains("the archive's bookkeeping (009) rebuilt after it",
            await ScalarAsync<string>(conn, "SELECT detail FROM migration_progress WHERE step = 'start' ORDER BY id DESC LIMIT 1"));

        // And the triggers keep it from here: a write after the rebuild is in the bookkeeping at once.
        await ExecAsync(conn, "UPDATE todos SET status = 'done', completed_at = now() - interval '60 days' WHERE id = (SELECT id FROM todos WHERE status <> 'done' ORDER BY ctid LIMIT 1)");
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        await ExecAsync(conn, "SELECT migration_cutover()");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task writes_between_the_bulk_and_the_resume_are_caught_up_without_rewriting_what_the_bulk_recorded()
    {
        // The plan up to the resume: indexes, then the bulk of every partition while the triggers are still paused.
        var (cs, conn) = await BulkRecordedAsync("deferbk_gap", 2_000);
        await using var _ = conn;

        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        // Mirrored writes the paused triggers do not record: a todo archived, an archived one deleted, one reopened, and
        // one edited (the mirror deletes and inserts it again, same key, new title).
        var archivedIds = await ScalarAsync<Guid[]>(conn, "SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM todos_archived a WHERE EXISTS (SELECT 1 FROM todos_archived_recent r WHERE r.id = a.id) ORDER BY id LIMIT 3) k");
        var newlyArchived = await ScalarAsync<Guid>(conn, "SELECT id FROM todos WHERE status <> 'done' ORDER BY ctid LIMIT 1");
        await ExecAsync(conn, "UPDATE todos SET status = 'done', completed_at = now() - interval '90 days' WHERE id = $1", newlyArchived);
        await ExecAsync(conn, "DELETE FROM todos WHERE id = $1", archivedIds[0]);
        await ExecAsync(conn, "UPDATE todos SET status = 'todo', completed_at = NULL WHERE id = $1", archivedIds[1]);
        await ExecAsync(conn, "UPDATE todos SET title = 'edited while the bookkeeping was paused' WHERE id = $1", archivedIds[2]);
        Assert.Equal(3L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.True(await ScalarAsync<long>(conn, RecentDifferences) >= 3);
        var countedBefore = await ScalarAsync<long>(conn, "SELECT sum(rows)::bigint FROM todos_archived_months");

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
        // Every (user, month) that holds rows has its entry; counts are hints (009 never lowers them), and the catch-up
        // adds entries without rewriting the bulk's.
        Assert.Equal(0L, await ScalarAsync<long>(conn, """
            SELECT count(*) FROM (SELECT DISTINCT user_id, todoscale_month_start(completed_at) AS month FROM todos_archived) a
            WHERE NOT EXISTS (SELECT 1 FROM todos_archived_months m WHERE m.user_id = a.user_id AND m.month = a.month)
            """));
        Assert.True(await ScalarAsync<long>(conn, "SELECT sum(rows)::bigint FROM todos_archived_months") >= countedBefore);
        Assert.Equal("edited while the bookkeeping was paused", await ScalarAsync<string>(conn, "SELECT title FROM todos_archived_recent WHERE id = $1", archivedIds[2]));
        await ExecAsync(conn, "SELECT migration_cutover()");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_reopened_while_the_catch_up_reads_its_partition_is_not_recorded_in_the_archive()
    {
        var (cs, conn) = await BulkRecordedAsync("deferbk_race", 2_000);
        await using var _ = conn;
        // Archived while paused: no entry until the catch-up of its partition records it.
        var todo = await ScalarAsync<Guid>(conn, "SELECT id FROM todos WHERE status <> 'done' ORDER BY ctid LIMIT 1");
        await ExecAsync(conn, "UPDATE todos SET status = 'done', completed_at = now() - interval '90 days' WHERE id = $1", todo);
        await ExecAsync(conn, Resume);

        // The application reopens it in a transaction that is still open while the catch-up reads the partition.
        await using var app = await server.OpenAsync(cs);
        await using var reopening = await app.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await ExecAsync(app, "UPDATE todos SET status = 'todo', completed_at = NULL WHERE id = $1", todo);
        var rest = new MigrationRunner(cs).RunAsync(new MigrationRunOptions(), ct: TestContext.Current.CancellationToken);
        await using var watcher = await server.OpenAsync(cs);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await ScalarAsync<bool>(watcher, """
                   SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                                  AND query LIKE '%todoscale_archive_bookkeeping_catch_up%')
                   """))
        {
            Assert.True(DateTime.UtcNow < deadline, "the catch-up never waited for the row the application holds");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        await reopening.CommitAsync(TestContext.Current.CancellationToken);
        await rest;

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT (SELECT count(*) FROM todos_archived_recent WHERE id = $1) + (SELECT count(*) FROM todos_archived_locator WHERE id = $1)", todo));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task forgetting_what_changed_while_paused_locks_no_entry_while_it_reads_the_archive()
    {
        var (cs, conn) = await BulkRecordedAsync("deferbk_forget", 1_500);
        await using var _ = conn;
        // Deleted while paused: its locator entry is left behind.
        var gone = await ScalarAsync<Guid>(conn, "SELECT id FROM todos_archived ORDER BY id LIMIT 1");
        await ExecAsync(conn, "DELETE FROM todos WHERE id = $1", gone);
        await ExecAsync(conn, Resume);
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_locator WHERE id = $1", gone));

        // Someone holds a partition of the recent rows: the forget reads the locator, then waits to read them.
        // Opened before the holder, so disposed after it: a failing test rolls the holder back and does not hang here.
        await using var migration = await server.OpenAsync(cs);
        await using var holder = await server.OpenAsync(cs);
        await using var holding = await holder.BeginTransactionAsync(TestContext.Current.CancellationToken);
        await ExecAsync(holder, "LOCK TABLE todos_archived_recent_part_0 IN ACCESS EXCLUSIVE MODE");
        var forgetting = ExecAsync(migration, "SELECT todoscale_archive_bookkeeping_forget_changed()");
        await using var watcher = await server.OpenAsync(cs);
        await WaitUntilWaitingOnLockAsync(watcher, migration.ProcessID, forgetting, "the forget ended without waiting to read the held recent rows");

        // Meanwhile a write of the stale entry goes through: one DELETE over the archive held it for its whole scan.
        // Written directly: a mirrored write would also wait for the held partition (009's trim reads every one).
        await using var writer = await server.OpenAsync(cs);
        await ExecAsync(writer, "SET lock_timeout = '2s'");
        await ExecAsync(writer, "UPDATE todos_archived_locator SET completed_at = completed_at WHERE id = $1", gone);

        await holding.CommitAsync(TestContext.Current.CancellationToken);
        await forgetting;
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_locator WHERE id = $1", gone));
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions(), ct: TestContext.Current.CancellationToken);
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_archive_partition_created_after_the_resume_is_caught_up_and_does_not_hold_up_cutover()
    {
        var (cs, conn) = await BulkRecordedAsync("deferbk_newpart", 1_500);
        await using var _ = conn;
        await ExecAsync(conn, Resume);
        // A month no legacy row needed (migration_start created the others), then a todo archived into it.
        var month = await ScalarAsync<DateTime>(conn, "SELECT (date_trunc('month', min(completed_at)) - interval '2 years')::date::timestamp FROM todos_archived");
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_create_month_partition('todos_archived'::regclass, $1::date)", month));
        await ExecAsync(conn, "UPDATE todos SET status = 'done', completed_at = $1::timestamp + interval '3 days' WHERE id = (SELECT id FROM todos WHERE status <> 'done' ORDER BY ctid LIMIT 1)", month);

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions(), ct: TestContext.Current.CancellationToken);

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        await ExecAsync(conn, "SELECT migration_cutover()");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task applying_009_again_after_the_resume_does_not_stand_in_for_the_repair_of_what_changed_while_paused()
    {
        var (cs, conn) = await BulkRecordedAsync("deferbk_009", 1_500);
        await using var _ = conn;
        await EditARecordedTodoAsync(conn);
        await ExecAsync(conn, Resume);

        // 009's own backfill, as `db migrate` runs it when 009 is applied again: it marks the recent rows ready.
        foreach (var statement in await ColumnAsync<string>(conn, "SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step"))
        {
            await ExecAsync(conn, statement);
        }

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Contains("forget_changed", await ScalarAsync<string>(conn, "SELECT stmt FROM todoscale_archive_bookkeeping_plan() ORDER BY step LIMIT 1"));

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions(), ct: TestContext.Current.CancellationToken);

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_f_002_over_a_rebuild_an_earlier_002_left_unfinished_finishes_it()
    {
        var (cs, conn) = await BulkRecordedAsync("deferbk_upgrade", 1_500);
        await using var _ = conn;
        await EditARecordedTodoAsync(conn);
        await ExecAsync(conn, Resume);
        // As an earlier 002 left it: resumed, recent rows not ready, and no record of the rebuild.
        await ExecAsync(conn, "UPDATE migration_state SET archive_bookkeeping = NULL");
        Assert.True(await ScalarAsync<long>(conn, RecentDifferences) > 0);

        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("002_migrate_existing_data.sql"));

        Assert.True(code == 0, $"psql -f 002 exited {code}: {output}");
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
    }

    /// <summary>
    /// A database whose backfill is complete and whose plan ran up to the resume: the indexes built, the bulk of every
    /// partition recorded, the triggers still paused.
    /// </summary>
    private async Task<(string Cs, NpgsqlConnection Conn)> BulkRecordedAsync(string prefix, int rows)
    {
        var cs = await CreateAsync(server, prefix, rows);
        var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "CALL migrate_todos(batch_size => 500)");
        await RunPlanUntilAsync(conn, Resume);
        return (cs, conn);
    }

    /// <summary>Edits an archived todo the bulk put among its user's recent rows (the mirror deletes and inserts it again).</summary>
    private static async Task<Guid> EditARecordedTodoAsync(NpgsqlConnection conn)
    {
        var edited = await ScalarAsync<Guid>(conn, "SELECT id FROM todos_archived a WHERE EXISTS (SELECT 1 FROM todos_archived_recent r WHERE r.id = a.id) ORDER BY id LIMIT 1");
        await ExecAsync(conn, "UPDATE todos SET title = 'edited while the bookkeeping was paused' WHERE id = $1", edited);
        return edited;
    }

    /// <summary>Runs migration_index_plan() up to the given statement, not including it.</summary>
    private static async Task RunPlanUntilAsync(NpgsqlConnection conn, string stop)
    {
        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM migration_index_plan() ORDER BY step");
        Assert.Contains(stop, plan);
        foreach (var statement in plan.TakeWhile(s => s != stop))
        {
            await ExecAsync(conn, statement);
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task cutover_even_forced_waits_for_the_archive_bookkeeping_and_migrate_run_finishes_it()
    {
        var cs = await CreateAsync(server, "deferbk_cut", rows: 1_500);
        await using var conn = await server.OpenAsync(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        // As a resume interrupted before it ran: the insert trigger still paused.
        await ExecAsync(conn, "ALTER TABLE todos_archived DISABLE TRIGGER todos_archived_index_insert");

        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, "SELECT migration_cutover(true)"));
        Assert.Contains("are not done yet", refused.MessageText);
        Assert.Contains("archive's bookkeeping", refused.MessageText);
        Assert.Equal("SELECT todoscale_archive_bookkeeping_resume()",
            await ScalarAsync<string>(conn, "SELECT stmt FROM migration_index_plan() ORDER BY step LIMIT 1"));

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_paused()"));
        await ExecAsync(conn, "SELECT migration_cutover()");
        Assert.Equal("cut_over", await ScalarAsync<string>(conn, "SELECT state FROM migration_state"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task cutover_waits_for_009s_own_backfill_when_009_came_after_the_start_and_migrate_run_runs_it()
    {
        var cs = await CreateAsync(server, "deferbk_late009", rows: 1_500);
        await using var conn = await server.OpenAsync(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 }, ct: TestContext.Current.CancellationToken);
        // As when 009 is installed after migration_start() and its own backfill has not run: nothing paused, nothing of
        // 002's to rebuild, and the archive's bookkeeping empty.
        await ExecAsync(conn, """
            TRUNCATE todos_archived_months, todos_archived_locator, todos_archived_recent, todos_archived_recent_floor,
                     todoscale_archive_index_backfilled, todoscale_archive_recent_backfilled;
            UPDATE todoscale_archive_recent_state SET ready = false
            """);

        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, "SELECT migration_cutover(true)"));
        Assert.Contains("archive's bookkeeping", refused.MessageText);

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions(), ct: TestContext.Current.CancellationToken);

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, LocatorDifferences));
        Assert.Equal(0L, await ScalarAsync<long>(conn, RecentDifferences));
        await ExecAsync(conn, "SELECT migration_cutover()");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_rollback_before_cutover_resumes_the_archive_bookkeeping()
    {
        var cs = await CreateAsync(server, "deferbk_rb", rows: 1_500);
        await using var conn = await server.OpenAsync(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 300, MaxBatches = 2 });
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_paused()"));

        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_rollback() WHERE step = 'archive_bookkeeping_resumed'"));

        Assert.False(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_paused()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT (SELECT count(*) FROM todos_archived) + (SELECT count(*) FROM todos_archived_locator)"));
        // Nothing left to rebuild in the emptied archive, and its page may use the recent rows again.
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_rollback_halfway_through_the_rebuild_leaves_nothing_to_rebuild()
    {
        var (_, conn) = await BulkRecordedAsync("deferbk_rbhalf", 1_500);
        await using var _ = conn;
        await ExecAsync(conn, Resume);
        Assert.Equal("rebuild", await ScalarAsync<string>(conn, "SELECT archive_bookkeeping FROM migration_state"));

        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_rollback() WHERE step = 'archive_bookkeeping_resumed'"));

        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_bookkeeping_complete()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_archive_bookkeeping_plan()"));
    }
}
