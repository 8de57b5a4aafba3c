using TodoScale.Database.Migration;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;
using static TodoScale.Database.Tests.Migration.BatchEngineTests;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// The batch engine's health signals, each forced for real and then cleared: a manual VACUUM on the legacy table,
/// a burst of WAL over the budget, a probe statement that turns slow; and the archival backlog running on the same
/// engine (split and retried while the application holds a user, every row archived exactly once).
/// </summary>
public sealed class BatchEngineSignalTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_vacuum_on_the_legacy_table_pauses_the_migration_with_its_reason_and_it_resumes_when_the_vacuum_ends()
    {
        var cs = await CreateAsync(server, "engine_vacuum", rows: 3_000);
        await using var conn = await server.OpenAsync(cs);
        // Started first: installing the mirror trigger needs a lock that a manual VACUUM holds until it ends.
        await ExecAsync(conn, "SELECT migration_start()");
        await ExecAsync(conn, "SELECT migrate_todos_configure()");
        // A real VACUUM, made slow (cost-based delay after every page) so that it is still running while the engine looks.
        await using var vacuumer = await server.OpenAsync(cs);
        await ExecAsync(vacuumer, "SET vacuum_cost_delay = '100ms'");
        await ExecAsync(vacuumer, "SET vacuum_cost_limit = 1");
        var vacuum = ExecWithoutTimeoutAsync(vacuumer, "VACUUM (DISABLE_PAGE_SKIPPING) todos");
        while (await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'todos'::regclass") == 0)
        {
            Assert.False(vacuum.IsCompleted, "the VACUUM ended before the test could see it");
            await Task.Delay(20);
        }

        var first = await StepAsync(conn);
        await Task.Delay(first.PauseMs);
        var second = await StepAsync(conn);
        var status = await new LegacyMigration(cs).EngineStatusAsync();
        var movedWhilePaused = await ScalarAsync<long>(conn, "SELECT rows_moved FROM migration_state");
        Assert.False(vacuum.IsCompleted, "the VACUUM ended while the test looked; make it slower");
        await ExecAsync(conn, "SELECT pg_cancel_backend($1)", vacuumer.ProcessID);
        await Assert.ThrowsAnyAsync<PostgresException>(() => vacuum);
        var resumed = await StepAsync(conn);

        Assert.Equal(("paused", "vacuum", 1_000), (first.Outcome, first.Signal, first.PauseMs));
        Assert.StartsWith("paused 0.0 s: VACUUM on todos (scanning heap", first.Detail);
        Assert.Equal(("paused", "vacuum"), (second.Outcome, second.Signal));
        Assert.Matches(@"^paused [1-9][0-9]*\.[0-9] s: VACUUM on todos \(", second.Detail);
        Assert.Equal(0L, movedWhilePaused);
        Assert.Equal("vacuum", status?.Signal);
        Assert.Equal(("batch", null), (resumed.Outcome, resumed.Signal));
        Assert.True(resumed.RowsMoved > 0);
        // One entry per pause, its end and reason moving on while it lasts.
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_progress WHERE step = 'pause' AND status = 'paused: vacuum' AND detail = $1", second.Detail!));
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_health_check_holds_no_lock_on_the_tables_it_watches_so_a_migration_starting_beside_it_never_waits()
    {
        var cs = await CreateAsync(server, "engine_nolocks", rows: 2_000);
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "SELECT migrate_todos_configure()");
        await using var tx = await conn.BeginTransactionAsync();
        await ExecAsync(conn, "SELECT batch_engine_check('migration')");
        var held = await ScalarAsync<string>(conn, """
            SELECT coalesce(string_agg(DISTINCT c.relname, ', '), '') FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'todos%'
            """);

        // The other half of the deadlock CI met: migration_start() holds migration_state FOR UPDATE while it creates
        // the archive's months (ACCESS EXCLUSIVE on todos_archived), and an archival that had checked the engine
        // (then holding ACCESS SHARE on every partition) asked for migration_state next.
        await using var migrator = await server.OpenAsync(cs);
        await ExecAsync(migrator, "SET lock_timeout = '5s'");
        var created = await ScalarAsync<int>(migrator, "SELECT partitions_created FROM migration_start()");
        await tx.CommitAsync();

        Assert.Equal("", held);
        Assert.True(created > 0, "migration_start() created no archive month, so it never needed the lock the check used to hold");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task wal_over_the_budget_pauses_the_next_batch_and_the_one_after_the_pause_runs()
    {
        var cs = await CreateAsync(server, "engine_wal", rows: 3_000);
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "ALTER TABLE todos SET (autovacuum_enabled = off)");
        await ExecAsync(conn, "SELECT migrate_todos_configure(wal_budget_mb => 5)");
        var configured = DateTime.UtcNow;
        // Another workload of the server writes about 50 MB of WAL within the engine's first one-second window.
        await ExecAsync(conn, "CREATE TABLE wal_burst AS SELECT g, repeat('x', 200) AS filler FROM generate_series(1, 200000) g");
        var sinceConfigured = DateTime.UtcNow - configured;
        if (sinceConfigured < TimeSpan.FromSeconds(1.1))
        {
            await Task.Delay(TimeSpan.FromSeconds(1.1) - sinceConfigured);
        }

        var paused = await StepAsync(conn);
        // Resumes: the next window starts after the burst. Other test classes share this server and write WAL
        // too, so a further pause is legitimate; the migration must go on once the server's rate allows.
        var after = paused;
        for (var i = 0; i < 20 && after.Outcome == "paused"; i++)
        {
            await Task.Delay(after.PauseMs);
            after = await StepAsync(conn);
        }

        Assert.Equal(("paused", "wal"), (paused.Outcome, paused.Signal));
        Assert.Matches(@"^paused 0\.0 s: WAL \d+ [kM]B/s over the budget of 5120 kB/s$", paused.Detail);
        Assert.InRange(paused.PauseMs, 100, 5_000);
        Assert.Equal("batch", after.Outcome);
        Assert.True(after.RowsMoved > 0);
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_progress WHERE step = 'pause' AND status = 'paused: wal'"));
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_probe_statement_slower_than_its_idle_time_pauses_the_migration_until_it_is_fast_again()
    {
        var cs = await CreateAsync(server, "engine_probe", rows: 2_000);
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "ALTER TABLE todos SET (autovacuum_enabled = off)");
        await ExecAsync(conn, "CREATE TABLE probe_target AS SELECT g FROM generate_series(1, 100) g");
        await ExecAsync(conn, "SELECT migrate_todos_configure(probe => 'SELECT count(*) FROM probe_target')");

        // The application's statement turns slow: here it waits 800 ms for a lock another session holds.
        await using var blocker = await server.OpenAsync(cs);
        await using var blockerTx = await blocker.BeginTransactionAsync();
        await ExecAsync(blocker, "LOCK TABLE probe_target IN ACCESS EXCLUSIVE MODE");
        var step = StepAsync(conn);
        await Task.Delay(800);
        await blockerTx.CommitAsync();
        var paused = await step;
        // Resumes once the lock is gone. Other test classes load this server's 2 cores too, so a probe that runs 5 ms
        // over its idle time once more is a legitimate further pause (CI saw one); the migration must go on after it.
        var after = await StepAsync(conn);
        for (var i = 0; i < 20 && after is { Outcome: "paused", Signal: "probe" }; i++)
        {
            await Task.Delay(after.PauseMs);
            after = await StepAsync(conn);
        }

        Assert.Equal(("paused", "probe"), (paused.Outcome, paused.Signal));
        Assert.Matches(@"^paused 0\.0 s: probe statement [0-9]{3,}\.[0-9] ms, idle [0-9]+\.[0-9] ms$", paused.Detail);
        Assert.Equal(("batch", null), (after.Outcome, after.Signal));
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_archival_backlog_runs_on_the_same_engine_splits_while_a_user_is_held_and_archives_every_row_exactly_once()
    {
        var cs = await server.CreateMigratedDatabaseAsync("engine_archival");
        await using var conn = await server.OpenAsync(cs);
        var users = await SeedAsync(conn, users: 20, todosPerUser: 300, doneDaysAgo: 45);
        var eligible = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");
        var notices = new List<string>();
        conn.Notice += (_, e) =>
        {
            lock (notices)
            {
                notices.Add(e.Notice.MessageText);
            }
        };

        // The application holds one user FOR UPDATE: archiving that user's rows needs a key-share lock on it (the
        // foreign key of todos_archived), so the batch holding them times out and is split.
        await using var app = await server.OpenAsync(cs);
        await using var appTx = await app.BeginTransactionAsync();
        await ExecAsync(app, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", users[7]);
        var call = ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, target => '50 ms')");
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.False(call.IsCompleted, "the archival finished although a user it needs stayed locked");
        await appTx.CommitAsync();
        await call;

        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived r WHERE EXISTS (SELECT 1 FROM todos_active a WHERE a.id = r.id)"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        await using var status = new NpgsqlCommand(BatchEngineStatusSql, conn);
        await using (var r = await status.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal("adaptive, target 50 ms, 100..50000 rows", r.GetString(0));
            Assert.True(r.GetInt64(1) >= 2, $"{r.GetInt64(1)} splits");
            Assert.True(r.GetInt64(2) >= 2, $"{r.GetInt64(2)} batches");
        }

        lock (notices)
        {
            Assert.Contains(notices, n => n.StartsWith("archival batch of ", StringComparison.Ordinal) && n.Contains("lock timeout") && n.Contains("; retrying with "));
            Assert.Contains($"archived {eligible} rows in total", notices);
        }
    }

    private const string BatchEngineStatusSql = "SELECT mode, splits, batches FROM batch_engine_status() WHERE job = 'archival'";
}
