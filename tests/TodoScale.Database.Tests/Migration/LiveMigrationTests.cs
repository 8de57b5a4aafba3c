using TodoScale.Database.Migration;
using TodoScale.Simulation.LegacyWriters;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

public sealed class LiveMigrationTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task concurrent_writers_during_a_small_batch_migration_leave_todos_and_the_new_tables_identical()
    {
        var cs = await CreateAsync(server, "livewrites", rows: 3_000);
        var writers = new LegacyWriterSimulator(cs, new LegacyWriterOptions { Connections = 4, Seed = 11 });
        using var stopWriters = new CancellationTokenSource();
        var writing = writers.RunAsync(stopWriters.Token);
        while (writers.OperationsSoFar < 50)
        {
            await Task.Delay(10);
        }

        var before = writers.OperationsSoFar;
        var result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 100, Throttle = TimeSpan.FromMilliseconds(5) });
        var during = writers.OperationsSoFar - before;
        // Writes after the backfill finished travel through the mirror trigger alone.
        var afterCompletion = writers.OperationsSoFar;
        while (writers.OperationsSoFar < afterCompletion + 200)
        {
            await Task.Delay(10);
        }

        await stopWriters.CancelAsync();
        var report = await writing;

        Assert.True(result.Completed);
        Assert.True(result.BatchesThisRun >= 30, $"expected at least 30 batches of 100, got {result.BatchesThisRun}");
        Assert.True(during > 0, "the writers did not write while the migration ran");
        foreach (var op in new[] { LegacyWriterSimulator.Insert, LegacyWriterSimulator.Update, LegacyWriterSimulator.Complete, LegacyWriterSimulator.Delete })
        {
            Assert.True(report.Operations.GetValueOrDefault(op) > 0, $"no {op} was executed");
        }

        // The application may see what it would see without us (a deadlock victim, a parent deleted by
        // another writer), never an error caused by the copies (a unique violation in a new table).
        Assert.All(report.ErrorsBySqlState.Keys, state => Assert.Contains(state, new[] { PostgresErrorCodes.DeadlockDetected, PostgresErrorCodes.ForeignKeyViolation }));
        await AssertAllPassAsync(cs);
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(conn));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task killing_the_migrating_connection_mid_batch_then_resuming_loses_and_duplicates_nothing()
    {
        var cs = await CreateAsync(server, "killed", rows: 2_000);
        await using var admin = await server.OpenAsync(cs);
        await ExecAsync(admin, "SELECT * FROM migration_start()");
        var blockedId = await ScalarAsync<Guid>(admin, "SELECT id FROM todos ORDER BY ctid OFFSET 250 LIMIT 1");

        // A writer holds the 251st row: the third batch of 100 copies rows 201..250 and stops before it, the
        // fourth waits for that row alone (up to its bound).
        await using var writer = await server.OpenAsync(cs);
        await using var writerTx = await writer.BeginTransactionAsync();
        await ExecAsync(writer, "UPDATE todos SET title = 'edited while the migration waited' WHERE id = $1", blockedId);

        await using var migrating = await server.OpenAsync(cs);
        var pid = migrating.ProcessID;
        var batches = Task.Run(async () =>
        {
            await using var tx = await migrating.BeginTransactionAsync();
            await ExecAsync(migrating, "SELECT * FROM migrate_todos_batch(100, 5)");
            await tx.CommitAsync();
        });
        await WaitUntilWaitingOnLockAsync(admin, pid, batches, "the batches finished instead of waiting for the writer's row lock");

        // Three batches of copies exist in the killed transaction at this point.
        Assert.True(await ScalarAsync<bool>(admin, "SELECT pg_terminate_backend($1)", pid));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => batches);
        await writerTx.CommitAsync();

        Assert.Equal(0L, await ScalarAsync<long>(admin, "SELECT rows_moved FROM migration_state"));
        Assert.Equal(0L, await ScalarAsync<long>(admin, "SELECT count(*) FROM migration_progress WHERE step = 'batch'"));
        // Only the writer's row, copied by the mirror trigger in the writer's committed transaction.
        Assert.Equal(1L, await ScalarAsync<long>(admin, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));

        var result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 100 });

        Assert.True(result.Completed);
        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(admin));
        Assert.Equal(2_000L, await ScalarAsync<long>(admin, $"SELECT count(DISTINCT id) FROM ({NewRows}) u"));
        Assert.Equal(2_000L, await ScalarAsync<long>(admin, $"SELECT count(*) FROM ({NewRows}) u"));
        Assert.Equal("edited while the migration waited", await ScalarAsync<string>(admin, $"SELECT title FROM ({NewRows}) u WHERE id = $1", blockedId));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_rewrite_of_todos_mid_migration_sends_the_backfill_back_to_the_first_page_and_loses_nothing()
    {
        var cs = await CreateAsync(server, "rewritten", rows: 3_000);
        await using var admin = await server.OpenAsync(cs);
        var first = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500, MaxBatches = 2 });
        Assert.Equal(1_000L, first.RowsMovedThisRun);
        var filenode = await ScalarAsync<long>(admin, "SELECT backfill_filenode::bigint FROM migration_state");

        // CLUSTER puts rows the backfill has not reached on the pages it has passed (the rows sit in user order
        // now): a cursor kept across the rewrite would leave them without a copy.
        await ExecAsync(admin, "CLUSTER todos USING idx_todos_user_id");
        var copiedBefore = await ScalarAsync<Guid[]>(admin, $"SELECT array_agg(id) FROM ({NewRows}) u");
        Assert.True(await ScalarAsync<long>(admin,
            "SELECT count(*) FROM todos t WHERE t.ctid < (SELECT backfill_ctid FROM migration_state) AND NOT (t.id = ANY ($1))", copiedBefore) > 0,
            "CLUSTER left every uncopied row after the cursor; the test would prove nothing");

        var rest = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });

        Assert.True(rest.Completed);
        Assert.NotEqual(filenode, await ScalarAsync<long>(admin, "SELECT backfill_filenode::bigint FROM migration_state"));
        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(admin));
        Assert.Equal(3_000L, await ScalarAsync<long>(admin, $"SELECT count(*) FROM ({NewRows}) u"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_rewrite_committed_while_a_batch_waits_for_todos_restarts_the_backfill_instead_of_ending_it()
    {
        var cs = await CreateAsync(server, "rewriterace", rows: 3_000);
        await using var admin = await server.OpenAsync(cs);
        // Half the rows gone before the migration: CLUSTER then writes a file of about half the pages, which ends
        // before the cursor once the backfill is past 70 % of the old file.
        await ExecAsync(admin, "DELETE FROM todos WHERE ('x' || substr(id::text, 1, 8))::bit(32)::int % 2 = 0");
        await ExecAsync(admin, "SELECT * FROM migration_start()");
        var runner = new MigrationRunner(cs);
        while (await ScalarAsync<bool>(admin,
                   "SELECT todoscale_tid_page(coalesce(backfill_ctid, todoscale_tid(0, 0))) < 0.7 * backfill_end_page FROM migration_state"))
        {
            await runner.RunAsync(new MigrationRunOptions { BatchSize = 100, MaxBatches = 1 });
        }

        var legacy = await ScalarAsync<long>(admin, "SELECT count(*) FROM todos");
        await using var rewriter = await server.OpenAsync(cs);
        await using var rewrite = await rewriter.BeginTransactionAsync();
        await ExecAsync(rewriter, "CLUSTER todos USING idx_todos_user_id");

        await using var migrating = await server.OpenAsync(cs);
        var pid = migrating.ProcessID;
        var batch = ScalarAsync<bool>(migrating, "SELECT coalesce(bool_or(completed), false) FROM migrate_todos_batch(100, 1)");
        await WaitUntilWaitingOnLockAsync(admin, pid, batch, "the batch did not wait for the rewrite's lock on todos");

        await rewrite.CommitAsync();
        Assert.False(await batch, "the batch ended the migration on the rewritten file");
        var rest = await runner.RunAsync(new MigrationRunOptions { BatchSize = 500 });

        Assert.True(rest.Completed);
        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(admin));
        Assert.Equal(legacy, await ScalarAsync<long>(admin, $"SELECT count(*) FROM ({NewRows}) u"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_backfill_stops_at_the_pages_todos_had_when_the_trigger_came_and_leaves_later_versions_to_it()
    {
        var cs = await CreateAsync(server, "endpage", rows: 3_000);
        await using var admin = await server.OpenAsync(cs);
        await ExecAsync(admin, "SELECT * FROM migration_start()");
        // Every third row edited after the trigger exists: the new versions land on pages after the old end, and the
        // trigger copied them. A backfill that read to the heap's current end would copy them again, and while the
        // application keeps writing it would chase its new versions instead of finishing.
        await ExecAsync(admin, "UPDATE todos SET title = title || ' (edited)' WHERE ('x' || substr(id::text, 1, 8))::bit(32)::int % 3 = 0");
        var before = await ScalarAsync<long>(admin,
            "SELECT count(*) FROM todos WHERE ctid < todoscale_tid((SELECT backfill_end_page FROM migration_state), 0)");
        Assert.True(before < 2_500, $"the edits left {before} rows before the end page; the test would prove nothing");

        var run = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });

        Assert.True(run.Completed);
        Assert.Equal(before, run.RowsMovedThisRun);
        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(admin));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rollback_after_cutover_and_new_writes_restores_todos_exactly()
    {
        var cs = await CreateAsync(server, "rollback", rows: 2_000);
        var migration = new LegacyMigration(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await migration.CutoverAsync(force: false);
        await using var conn = await server.OpenAsync(cs);

        var legacyWrite = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, "DELETE FROM todos WHERE id = (SELECT id FROM todos LIMIT 1)"));
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, legacyWrite.SqlState);

        // The application now writes to the new tables only: edits, completions that move to the archive,
        // deletes (of todos that are nobody's parent), new todos and subtasks.
        await ExecAsync(conn, "UPDATE todos_active SET title = title || ' (after cutover)', priority = 4 WHERE id IN (SELECT id FROM todos_active ORDER BY id LIMIT 40)");
        await ExecAsync(conn, """
            WITH moved AS (
                DELETE FROM todos_active WHERE id IN (SELECT id FROM todos_active WHERE status = 'todo' AND title NOT LIKE '%(after cutover)' ORDER BY id LIMIT 15)
                RETURNING id, user_id, parent_todo_id, project_id, title, description, priority, due_date, ai_generated, created_at)
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority, due_date,
                                        completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, 'done', priority, due_date,
                   now() - interval '45 days', ai_generated, created_at, now() FROM moved
            """);
        await ExecAsync(conn, $"""
            DELETE FROM todos_active WHERE id IN (
                SELECT a.id FROM todos_active a
                WHERE NOT EXISTS (SELECT 1 FROM ({NewRows}) c WHERE c.parent_todo_id = a.id)
                ORDER BY a.id DESC LIMIT 25)
            """);
        await ExecAsync(conn, "INSERT INTO todos_active (user_id, title, status) SELECT user_id, 'new after cutover', 'todo' FROM todos_active LIMIT 10");
        await ExecAsync(conn, """
            INSERT INTO todos_active (user_id, parent_todo_id, title)
            SELECT user_id, id, 'subtask after cutover' FROM todos_active WHERE title = 'new after cutover' LIMIT 3
            """);
        var expected = await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u");

        var steps = await migration.RollbackAsync(dropNewTables: false);

        Assert.Contains(steps, s => s.Step == "upserted_into_todos" && s.AffectedRows == 40 + 15 + 10 + 3);
        Assert.Contains(steps, s => s.Step == "deleted_from_todos" && s.AffectedRows == 25);
        Assert.Equal(expected, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos"));
        Assert.Equal((0L, 0L), await DiffAsync(conn));
        Assert.Equal("rolled_back", (await migration.StatusAsync()).State);
        // The legacy table takes the application's writes again, and nothing mirrors them any more.
        await ExecAsync(conn, "UPDATE todos SET title = 'legacy again' WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)");
        Assert.Equal(0L, await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u WHERE title = 'legacy again'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rollback_before_cutover_stops_mirroring_leaves_todos_untouched_and_a_new_run_starts_clean()
    {
        var cs = await CreateAsync(server, "rollbackearly", rows: 800);
        var migration = new LegacyMigration(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 200, MaxBatches = 2 });
        await using var conn = await server.OpenAsync(cs);
        const string Fingerprint = $"SELECT md5(string_agg(ROW({Columns})::text, ',' ORDER BY id)) FROM todos";
        var before = await ScalarAsync<string>(conn, Fingerprint);

        var steps = await migration.RollbackAsync(dropNewTables: false);

        // The eleven secondary indexes the start deferred are back, as on the tables before the migration.
        Assert.Equal([new RollbackStep("copies_removed_from_new_tables", 400), new RollbackStep("archive_bookkeeping_resumed", 0),
            new RollbackStep("deferred_indexes_rebuilt", 11)], steps);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_index_plan()"));
        Assert.Equal(before, await ScalarAsync<string>(conn, Fingerprint));
        Assert.Equal(0L, await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u"));
        await ExecAsync(conn, "UPDATE todos SET title = 'after the rollback' WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)");
        Assert.Equal(0L, await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u"));

        var again = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 200 });

        Assert.True(again.Completed);
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rollback_refuses_in_one_piece_when_a_new_row_points_to_a_parent_that_no_longer_exists()
    {
        var cs = await CreateAsync(server, "rollbackorphan", rows: 1_000);
        var migration = new LegacyMigration(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await migration.CutoverAsync(force: false);
        await using var conn = await server.OpenAsync(cs);
        // The new tables have no parent foreign key: the application deleted a parent but kept its subtask.
        await ExecAsync(conn, $"""
            DELETE FROM todos_active WHERE id = (SELECT c.parent_todo_id FROM ({NewRows}) c
                                                 WHERE c.parent_todo_id IN (SELECT id FROM todos_active) ORDER BY c.id LIMIT 1)
            """);
        await ExecAsync(conn, "UPDATE todos_active SET title = 'edited after cutover' WHERE id = (SELECT id FROM todos_active ORDER BY id LIMIT 1)");

        var refused = await Assert.ThrowsAsync<PostgresException>(() => migration.RollbackAsync(dropNewTables: false));

        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, refused.SqlState);
        Assert.Contains("parent todo", refused.MessageText);
        Assert.Equal("cut_over", (await migration.StatusAsync()).State);
        Assert.Equal(1_000L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos WHERE title = 'edited after cutover'"));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'todoscale_readonly_after_cutover'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rollback_with_drop_new_tables_drops_them_only_then()
    {
        var cs = await CreateAsync(server, "rollbackdrop", rows: 500);
        var migration = new LegacyMigration(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await migration.CutoverAsync(force: false);

        await migration.RollbackAsync(dropNewTables: true);

        await using var conn = await server.OpenAsync(cs);
        Assert.False(await ScalarAsync<bool>(conn, "SELECT to_regclass('todos_active') IS NOT NULL OR to_regclass('todos_archived') IS NOT NULL"));
        Assert.Equal(500L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task cutover_refuses_while_validation_fails_unless_forced()
    {
        var cs = await CreateAsync(server, "cutoverfail", rows: 500);
        var migration = new LegacyMigration(cs);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await using var conn = await server.OpenAsync(cs);
        // A copy changed behind the mirror's back.
        await ExecAsync(conn, "UPDATE todos_active SET description = 'drifted' WHERE id = (SELECT id FROM todos_active ORDER BY id LIMIT 1)");

        var refused = await Assert.ThrowsAsync<PostgresException>(() => migration.CutoverAsync(force: false));

        Assert.Contains("checksum_all_13_columns", refused.MessageText);
        Assert.Equal("migrated", (await migration.StatusAsync()).State);
        await migration.CutoverAsync(force: true);
        Assert.Equal("cut_over", (await migration.StatusAsync()).State);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task validation_fails_on_a_changed_column_a_missing_copy_and_a_misplaced_row()
    {
        var cs = await CreateAsync(server, "validatefail", rows: 1_000);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 1_000 });
        await AssertAllPassAsync(cs);
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "ALTER TABLE todos DISABLE TRIGGER todoscale_mirror");
        await ExecAsync(conn, "UPDATE todos SET priority = priority + 1 WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)");
        await ExecAsync(conn, "DELETE FROM todos_archived WHERE id = (SELECT id FROM todos_archived ORDER BY id LIMIT 1)");
        await ExecAsync(conn, """
            INSERT INTO todos_active (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            SELECT id, user_id, title, status, priority, completed_at, created_at, updated_at
            FROM todos_archived WHERE id = (SELECT id FROM todos_archived ORDER BY id DESC LIMIT 1)
            """);

        var failed = (await new LegacyMigration(cs).ValidateAsync()).Where(c => !c.Passed).Select(c => c.CheckName).ToList();

        Assert.Contains("checksum_all_13_columns", failed);
        Assert.Contains("no_legacy_id_missing", failed);
        Assert.Contains("no_id_in_both_new_tables", failed);
        Assert.Contains(failed, f => f.StartsWith("done_before_", StringComparison.Ordinal));
        Assert.DoesNotContain("no_extra_id", failed);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_runner_stops_after_max_batches_or_cancellation_and_the_next_run_resumes()
    {
        var cs = await CreateAsync(server, "resume", rows: 1_000);
        var runner = new MigrationRunner(cs);

        var first = await runner.RunAsync(new MigrationRunOptions { BatchSize = 100, MaxBatches = 3 });
        using var ctrlC = new CancellationTokenSource();
        var reports = new List<MigrationProgress>();
        var secondClock = System.Diagnostics.Stopwatch.StartNew();
        var second = await runner.RunAsync(new MigrationRunOptions { BatchSize = 100 },
            new SyncProgress<MigrationProgress>(p => { reports.Add(p); ctrlC.Cancel(); }), ctrlC.Token);
        secondClock.Stop();
        var third = await runner.RunAsync(new MigrationRunOptions { BatchSize = 100 });
        var fourth = await runner.RunAsync(new MigrationRunOptions { BatchSize = 100 });

        Assert.Equal((3L, 300L, false), (first.BatchesThisRun, first.RowsMovedThisRun, first.Completed));
        Assert.Equal((1L, 100L, true), (second.BatchesThisRun, second.RowsMovedThisRun, second.Cancelled));
        Assert.Equal((6L, 600L, true), (third.BatchesThisRun, third.RowsMovedThisRun, third.Completed));
        Assert.Equal((0L, 0L, true), (fourth.BatchesThisRun, fourth.RowsMovedThisRun, fourth.Completed));
        await using var conn = await server.OpenAsync(cs);

        // The one report of the second run, checked against clocks of its own rather than against itself: its rate is
        // that run's 100 rows over the time the run had taken, so it lies between 100 rows over the test's stopwatch
        // around the whole call and 100 rows over the batch's own duration as migration_progress recorded it (1%
        // for the two clocks). A rate over all 400 rows moved so far, or over the first run's time, falls outside.
        var report = Assert.Single(reports);
        Assert.Equal((400L, 1_000L, 1L, false), (report.RowsDone, report.RowsTotal, report.Batches, report.Completed));
        var batchSeconds = await ScalarAsync<double>(conn,
            "SELECT extract(epoch FROM end_time - start_time)::float8 FROM migration_progress WHERE step = 'batch' ORDER BY start_time OFFSET 3 LIMIT 1");
        Assert.InRange(report.RowsPerSecond, 100 / secondClock.Elapsed.TotalSeconds, 100 / batchSeconds * 1.01);
        // The ETA is the 600 rows left at that rate: at most six times the test's stopwatch, at least six times the batch.
        Assert.NotNull(report.Eta);
        Assert.Equal(600 / report.RowsPerSecond, report.Eta.Value.TotalSeconds, 0.001);
        Assert.InRange(report.Eta.Value.TotalSeconds, 6 * batchSeconds / 1.01, 6 * secondClock.Elapsed.TotalSeconds);
        Assert.Equal(10L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_progress WHERE step = 'batch'"));
        Assert.Empty(await ReadRowsAsync(conn, "SELECT * FROM migrate_todos_batch(100, 5)"));
        Assert.Equal(1_000L, await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u"));
        await AssertAllPassAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_second_runner_is_refused_while_another_holds_the_migration_lock()
    {
        var cs = await CreateAsync(server, "busy", rows: 200);
        await using var other = await server.OpenAsync(cs);
        await ExecAsync(other, "SELECT pg_advisory_lock($1)", MigrationRunner.AdvisoryLockKey);

        await Assert.ThrowsAsync<MigrationBusyException>(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions()));

        await ExecAsync(other, "SELECT pg_advisory_unlock($1)", MigrationRunner.AdvisoryLockKey);
        Assert.True((await new MigrationRunner(cs).RunAsync(new MigrationRunOptions())).Completed);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_f_002_on_a_legacy_database_migrates_everything_in_committed_batches_and_is_idempotent()
    {
        var cs = await server.CreateEmptyDatabaseAsync("psqlpath");
        await using (var conn = await server.OpenAsync(cs))
        {
            await TodoScale.Simulation.LegacyData.LegacyDatabase.CreateSchemaAsync(conn);
            await TodoScale.Simulation.LegacyData.LegacyDatabase.GenerateAsync(conn, new TodoScale.Simulation.LegacyData.LegacyDataOptions { Rows = 12_000 });
        }

        var batchesAfter = new List<long>();
        foreach (var file in new[] { "001_create_partitioned_tables.sql", "002_migrate_existing_data.sql", "002_migrate_existing_data.sql" })
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath(file));
            Assert.True(code == 0, $"psql -f {file} exited {code}: {output}");
            Assert.DoesNotContain("ERROR", output);
            if (file.StartsWith("002", StringComparison.Ordinal))
            {
                await using var count = await server.OpenAsync(cs);
                batchesAfter.Add(await ScalarAsync<long>(count, "SELECT count(*) FROM migration_progress WHERE step = 'batch'"));
            }
        }

        await AssertAllPassAsync(cs);
        await using var check = await server.OpenAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(check));
        // 12,000 rows in committed batches sized by the batch engine (the first of 1,000 rows), then the completion
        // record; the second run added none.
        Assert.True(batchesAfter[0] >= 2, $"{batchesAfter[0]} batches");
        Assert.Equal(batchesAfter[0], batchesAfter[1]);
        Assert.Equal(12_000L, await ScalarAsync<long>(check, "SELECT sum(rows_moved)::bigint FROM migration_progress WHERE step = 'batch'"));
        Assert.Equal(1L, await ScalarAsync<long>(check, "SELECT count(*) FROM migration_progress WHERE step = 'complete'"));
        Assert.Equal("complete", await ScalarAsync<string>(check, "SELECT step FROM migration_progress ORDER BY start_time DESC LIMIT 1"));
        Assert.Equal(0L, await ScalarAsync<long>(check, "SELECT count(*) FROM todos_archived_default"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_migrator_applying_002_installs_the_functions_and_moves_nothing()
    {
        var empty = await server.CreateMigratedDatabaseAsync("migratorempty");
        var legacy = await CreateAsync(server, "migratorlegacy", rows: 500);

        foreach (var cs in new[] { empty, legacy })
        {
            await using var conn = await server.OpenAsync(cs);
            Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM migration_progress"));
            Assert.Equal("not_started", await ScalarAsync<string>(conn, "SELECT state FROM migration_status()"));
            Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));
            Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'todoscale_mirror'"));
        }

        await using var legacyConn = await server.OpenAsync(legacy);
        Assert.Equal(500L, await ScalarAsync<long>(legacyConn, "SELECT rows_remaining FROM migration_status()"));
    }

    private static async Task<List<object[]>> ReadRowsAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<object[]>();
        while (await reader.ReadAsync())
        {
            var values = new object[reader.FieldCount];
            reader.GetValues(values);
            rows.Add(values);
        }

        return rows;
    }
}
