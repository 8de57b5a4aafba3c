using Npgsql;
using TodoScale.Database.Migration;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// The new tables' secondary indexes (005) are dropped while the backfill fills them and built after it, one partition at a time
/// (migration_start, migration_index_plan): cheaper copies and cheaper mirrored writes, and never a cutover without them.
/// </summary>
public sealed class DeferredIndexTests(PostgresServer server)
{
    // The secondary indexes of the two tables the migration fills that exist and are valid, with every partition's index attached.
    private const string BuiltSecondaryIndexes = """
        SELECT count(*) FROM todoscale_migration_secondary_indexes() d
        JOIN pg_class c ON c.relname = d.index_name JOIN pg_index x ON x.indexrelid = c.oid
        WHERE x.indisvalid
        """;

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_backfill_fills_the_new_tables_without_their_secondary_indexes_and_cutover_waits_until_they_are_built()
    {
        var cs = await CreateAsync(server, "deferidx", rows: 2_000);
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal(11L, await ScalarAsync<long>(conn, BuiltSecondaryIndexes));

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 300, MaxBatches = 1 });

        Assert.Equal(0L, await ScalarAsync<long>(conn, BuiltSecondaryIndexes));
        Assert.Equal(11L, await ScalarAsync<long>(conn, "SELECT cardinality(deferred_indexes)::bigint FROM migration_state"));
        // A user's delete cascades into todos_archived through this one: it stays.
        Assert.True(await ScalarAsync<bool>(conn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_todos_archived_user_completed'::regclass"));
        // Nothing to build while the backfill runs: a build then would only slow it down.
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));
        // The mirror trigger writes into the unindexed tables like into the indexed ones.
        await ExecAsync(conn, "UPDATE todos SET title = 'mirrored while unindexed' WHERE id IN (SELECT id FROM todos ORDER BY ctid DESC LIMIT 5)");

        // The psql path's procedure completes the backfill but cannot build an index concurrently: cutover refuses,
        // even forced, and says how to build them.
        await ExecAsync(conn, "CALL migrate_todos(batch_size => 500)");
        Assert.Equal("migrated", (await new LegacyMigration(cs).StatusAsync()).State);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => new LegacyMigration(cs).CutoverAsync(force: true));
        Assert.Equal(PostgresErrorCodes.ObjectNotInPrerequisiteState, refused.SqlState);
        Assert.Contains("not done yet", refused.MessageText);
        Assert.Contains("migration_index_plan()", refused.Hint);

        // Every build concurrent: a plain one would block the partition's mirrored writes while it builds. The knob
        // (todoscale_migration_plain_index_pages) would build partitions up to its size plainly, under the migration's lock timeout.
        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM migration_index_plan() ORDER BY step");
        Assert.Contains(plan, s => s.StartsWith("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_todos_active_user_created_p3 ", StringComparison.Ordinal));
        // The write-blocking steps (the parent's index, each attach) wait at most the migration's lock timeout, not 005's 1 s.
        Assert.Equal("SET todoscale.lock_timeout = '200ms'", plan[0]);
        Assert.DoesNotContain(plan, s => s.StartsWith("CALL todoscale_create_small_partition_index", StringComparison.Ordinal));
        var plainUpTo8Mb = await ColumnAsync<string>(conn, "SELECT stmt FROM todoscale_index_plan(1024, todoscale_migration_lock_timeout()) ORDER BY step");
        Assert.Contains(plainUpTo8Mb, s => s.StartsWith("CALL todoscale_create_small_partition_index('idx_todos_active_user_created_p3', 'public.todos_active_part_3',", StringComparison.Ordinal)
                                           && s.EndsWith(", '200ms')", StringComparison.Ordinal));

        var run = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.True(run.Completed);
        Assert.True(run.IndexStatements > 0, "the run built nothing");
        Assert.Equal(11L, await ScalarAsync<long>(conn, BuiltSecondaryIndexes));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));
        await AssertAllPassAsync(cs);
        await new LegacyMigration(cs).CutoverAsync(force: false);
        Assert.Equal("cut_over", (await new LegacyMigration(cs).StatusAsync()).State);
    }

    // Autovacuum never analyzes a partitioned table: only the migration's plan gives the parents statistics.
    private const string ParentsWithStatistics = """
        SELECT count(DISTINCT tablename) FROM pg_stats WHERE inherited AND tablename IN ('todos_active', 'todos_archived') AND attname = 'user_id'
        """;

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_plan_ends_by_analyzing_the_filled_tables_once_even_where_the_server_counts_nothing()
    {
        var cs = await CreateAsync(server, "deferidxstats", rows: 1_000);
        await using var conn = await server.OpenAsync(cs);
        // No last_analyze to go by: a plan that judged by pg_stat_user_tables would ask for the ANALYZE every round,
        // and the runner would give up after its rounds.
        await ExecAsync(conn, $"ALTER DATABASE {new NpgsqlConnectionStringBuilder(cs).Database} SET track_counts = off");

        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.Equal(2L, await ScalarAsync<long>(conn, ParentsWithStatistics));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT analyzed_at > completed_at FROM migration_state"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_run_that_finds_only_the_statistics_left_takes_them_and_they_never_hold_back_cutover()
    {
        var cs = await CreateAsync(server, "deferidxstatsleft", rows: 1_000);
        await using var conn = await server.OpenAsync(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());
        // As a run stopped after its last index build leaves it.
        const string Forget = """
            UPDATE migration_state SET analyzed_at = NULL;
            DELETE FROM pg_statistic WHERE starelid IN ('todos_active'::regclass, 'todos_archived'::regclass)
            """;
        await ExecAsync(conn, Forget);
        Assert.Equal(0L, await ScalarAsync<long>(conn, ParentsWithStatistics));
        Assert.Equal(
            ["ANALYZE todos_active, todos_archived, todos_archived_recent, todos_archived_recent_floor, todos_archived_locator, todos_archived_months",
             "UPDATE migration_state SET analyzed_at = clock_timestamp()"],
            await ColumnAsync<string>(conn, "SELECT stmt FROM migration_index_plan() ORDER BY step"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT migration_index_steps_left()"));

        var run = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.Equal(2, run.IndexStatements);
        Assert.Equal(2L, await ScalarAsync<long>(conn, ParentsWithStatistics));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));

        await ExecAsync(conn, Forget);
        await new LegacyMigration(cs).CutoverAsync(force: false);
        Assert.Equal("cut_over", (await new LegacyMigration(cs).StatusAsync()).State);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_write_blocking_index_step_waits_for_its_lock_no_longer_than_the_sessions_todoscale_lock_timeout()
    {
        var cs = await CreateAsync(server, "deferidxlt", rows: 200);
        await using var conn = await server.OpenAsync(cs);
        const string Seen = "SELECT todoscale_execute_with_lock_retries('SELECT set_config(''todoscale.seen'', current_setting(''lock_timeout''), false)', 1)";

        await ExecAsync(conn, Seen);
        Assert.Equal("1s", await ScalarAsync<string>(conn, "SELECT current_setting('todoscale.seen')"));

        await ExecAsync(conn, "SET todoscale.lock_timeout = '200ms'");
        await ExecAsync(conn, Seen);
        Assert.Equal("200ms", await ScalarAsync<string>(conn, "SELECT current_setting('todoscale.seen')"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_f_002_on_an_installed_schema_migrates_then_builds_the_deferred_indexes()
    {
        var cs = await CreateAsync(server, "deferidxpsql", rows: 3_000);

        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("002_migrate_existing_data.sql"));

        Assert.True(code == 0, $"psql -f 002 exited {code}: {output}");
        Assert.DoesNotContain("ERROR", output);
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal("migrated", (await new LegacyMigration(cs).StatusAsync()).State);
        Assert.Contains("11 secondary index(es) built after the backfill",
            await ScalarAsync<string>(conn, "SELECT detail FROM migration_progress WHERE step = 'start' ORDER BY id DESC LIMIT 1"));
        Assert.Equal(11L, await ScalarAsync<long>(conn, BuiltSecondaryIndexes));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_index_plan()"));
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_index_build_stopped_before_its_attach_blocks_cutover_and_a_rollback_rebuilds_it_whole()
    {
        var cs = await CreateAsync(server, "deferidxpart", rows: 1_000);
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "CALL migrate_todos(batch_size => 500)");
        // Stopped (Ctrl-C, a lost connection) after the parent index and one partition's index, before the attach:
        // the parent exists but stays INVALID.
        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM migration_index_plan() ORDER BY step");
        foreach (var statement in plan.TakeWhile(s => !s.StartsWith("CALL todoscale_attach_partition_index", StringComparison.Ordinal)))
        {
            await ExecAsync(conn, statement);
        }

        Assert.All(await ColumnAsync<string>(conn, "SELECT stmt FROM migration_index_plan() WHERE stmt NOT LIKE 'SET %'"),
            s => Assert.False(s.StartsWith("CALL todoscale_create_parent_index('idx_todos_active_user_status_priority')", StringComparison.Ordinal), s));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => new LegacyMigration(cs).CutoverAsync(force: true));
        Assert.Contains("not done yet", refused.MessageText);

        var steps = await new LegacyMigration(cs).RollbackAsync(dropNewTables: false);

        Assert.Contains(new RollbackStep("deferred_indexes_rebuilt", 11), steps);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_index_plan()"));
        Assert.Equal(11L, await ScalarAsync<long>(conn, BuiltSecondaryIndexes));
    }
}
