using TodoScale.Database.Maintenance;
using TodoScale.Database.Migration;
using TodoScale.Simulation.LegacyWriters;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// Maintenance while a live migration mirrors `todos`: archival used to move copies that the mirror trigger
/// then re-inserted into todos_active on the next legacy UPDATE (the same id in both new tables).
/// </summary>
public sealed class MaintenanceDuringMigrationTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task every_maintenance_entry_point_skips_archival_while_a_migration_mirrors_and_says_why()
    {
        var cs = await CreateAsync(server, "mirrorskip", rows: 4_000);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 1_000, MaxBatches = 2 });
        await using var conn = await server.OpenAsync(cs);
        var eligible = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");
        Assert.True(eligible > 100, $"the copied batches hold only {eligible} done rows; the test needs rows archival would move");
        var notices = new List<string>();
        conn.Notice += (_, e) => notices.Add(e.Notice.MessageText);

        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT archive_completed_todos(0)"));
        Assert.Contains(notices, n => n.Contains("a migration is mirroring todos", StringComparison.Ordinal));

        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(0, 100)");
        Assert.Contains(notices, n => n.StartsWith("archive_completed_todos_in_batches stopped after 0 rows", StringComparison.Ordinal));

        var daily = await new MaintenanceRunner(cs).RunDailyAsync();
        var archive = Assert.Single(daily.Steps, s => s.Step == "archive");
        Assert.Equal(MaintenanceStep.Skipped, archive.Status);
        Assert.Contains("a migration is mirroring todos (state migrating)", archive.Detail);
        Assert.Contains(daily.Steps, s => s is { Step: "partitions", Status: MaintenanceStep.Ok });

        var cluster = await new MaintenanceRunner(cs).RunClusterAsync();
        var skipped = Assert.Single(cluster.Steps, s => s.Step != "vacuum");
        Assert.Equal(("cluster", MaintenanceStep.Skipped), (skipped.Step, skipped.Status));
        Assert.Contains("a migration is mirroring todos", skipped.Detail);

        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived WHERE completed_at >= (SELECT archive_cutoff FROM migration_state)"));
        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task maintenance_running_beside_a_migration_and_legacy_writes_leaves_the_copy_exact()
    {
        var cs = await CreateAsync(server, "mirrormaint", rows: 6_000);
        await using var conn = await server.OpenAsync(cs);
        var writers = new LegacyWriterSimulator(cs, new LegacyWriterOptions { Connections = 3, Seed = 5, ThinkTime = TimeSpan.FromMilliseconds(2) });
        using var stop = new CancellationTokenSource();
        var writing = writers.RunAsync(stop.Token);

        // Every data-moving entry point, over and over, from other sessions: the SQL function, the procedure,
        // the daily job through the C# runner (as the CLI and the in-host scheduler call it), and clustering.
        var maintenanceRuns = 0;
        var maintenance = Task.Run(async () =>
        {
            await using var m = await server.OpenAsync(cs);
            while (!stop.IsCancellationRequested)
            {
                await ExecAsync(m, "SELECT archive_completed_todos(0)");
                await ExecAsync(m, "CALL archive_completed_todos_in_batches(0, 200)");
                await new MaintenanceRunner(cs).RunDailyAsync();
                await new MaintenanceRunner(cs).RunClusterAsync(new ClusterOptions(MinCorrelation: 1, LockTimeoutMs: 100));
                Interlocked.Increment(ref maintenanceRuns);
            }
        });

        var result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 300, Throttle = TimeSpan.FromMilliseconds(5) });
        Assert.True(result.Completed);
        // Reopening archived-by-the-rule rows and editing done ones is what made the trigger re-insert copies.
        for (var i = 0; i < 20; i++)
        {
            await ExecAsync(conn, "UPDATE todos SET status = 'todo', completed_at = NULL WHERE id = (SELECT id FROM todos WHERE status = 'done' ORDER BY completed_at OFFSET $1 LIMIT 1)", i * 7);
            await ExecAsync(conn, "UPDATE todos SET title = title || ' edited' WHERE id = (SELECT id FROM todos WHERE status = 'done' ORDER BY id OFFSET $1 LIMIT 1)", i * 11);
        }

        while (Volatile.Read(ref maintenanceRuns) < 2)
        {
            Assert.False(maintenance.IsFaulted, maintenance.Exception?.ToString());
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await writing;
        await maintenance;

        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(conn));
        Assert.True(await ScalarAsync<long>(conn,
            "SELECT count(*) FROM maintenance_job_log WHERE step = 'archive' AND status = 'SKIPPED' AND detail LIKE 'a migration is mirroring todos%'") >= 2);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task validation_names_ids_that_an_earlier_archival_put_in_both_tables_and_repair_rebuilds_them()
    {
        var cs = await CreateAsync(server, "mirrorrepair", rows: 3_000);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await using var conn = await server.OpenAsync(cs);

        // What the unguarded archival of earlier versions did: move copies out from under the mirror trigger,
        // after which a legacy edit re-inserts the row into todos_active (the reproduction of the issue).
        await ExecAsync(conn, """
            WITH moved AS (
                DELETE FROM todos_active WHERE id IN (SELECT id FROM todos_active WHERE status = 'done' AND completed_at IS NOT NULL ORDER BY id LIMIT 5)
                RETURNING *)
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at FROM moved
            """);
        var edited = await ScalarAsync<Guid[]>(conn, "SELECT array_agg(id ORDER BY id) FROM (SELECT r.id FROM todos_archived r JOIN todos t USING (id) WHERE t.completed_at >= (SELECT archive_cutoff FROM migration_state) ORDER BY r.id LIMIT 3) x");
        Assert.Equal(3, edited.Length);
        await ExecAsync(conn, "UPDATE todos SET title = title || ' edited' WHERE id = ANY ($1)", edited);

        var checks = await new LegacyMigration(cs).ValidateAsync();
        Assert.Contains(checks, c => c is { CheckName: "no_id_in_both_new_tables", Passed: false });
        var ids = Assert.Single(checks, c => c.CheckName == "ids_that_differ");
        Assert.False(ids.Passed);
        Assert.StartsWith("5 id(s): ", ids.Actual);
        foreach (var id in edited)
        {
            Assert.Contains($"{id} (duplicate)", ids.Actual);
        }

        Assert.Contains("todoscale migrate repair", ids.Actual);

        var repaired = await new LegacyMigration(cs).RepairAsync();
        Assert.Equal(5, repaired.Count);
        Assert.Equal(3, repaired.Count(r => r.Problem == "duplicate"));
        Assert.Equal(2, repaired.Count(r => r.Problem == "misplaced"));
        Assert.All(repaired, r => Assert.Equal("copied from todos", r.Action));
        await AssertAllPassAsync(cs);
        Assert.Equal((0L, 0L), await DiffAsync(conn));
        Assert.Empty(await new LegacyMigration(cs).RepairAsync());
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task repair_refuses_after_cutover_where_the_new_tables_are_the_truth()
    {
        var cs = await CreateAsync(server, "repaircut", rows: 500);
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 500 });
        await new LegacyMigration(cs).CutoverAsync(force: false);

        var e = await Assert.ThrowsAsync<PostgresException>(() => new LegacyMigration(cs).RepairAsync());
        Assert.Equal(PostgresErrorCodes.ObjectNotInPrerequisiteState, e.SqlState);
        Assert.Contains("nothing to repair in state cut_over", e.MessageText);
    }
}
