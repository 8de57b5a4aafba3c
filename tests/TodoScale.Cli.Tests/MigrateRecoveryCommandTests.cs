using Npgsql;
using TodoScale.Simulation.LegacyData;
using TodoScale.Database.Migration;
using static TodoScale.Testing.Sql;

namespace TodoScale.Cli.Tests;

/// <summary>What an operator sees and does when a run was killed, another holds the lock, or the copy needs repair.</summary>
public sealed class MigrateRecoveryCommandTests(PostgresServer server)
{
    private async Task<string> MigratedLegacyDatabaseAsync(string prefix, int rows)
    {
        var cs = await server.CreateEmptyDatabaseAsync(prefix);
        await using (var conn = await server.OpenAsync(cs))
        {
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rows });
        }

        var migrate = await Todoscale.RunAsync(["db", "migrate", "--database", cs]);
        Assert.True(migrate.ExitCode == 0, migrate.Stdout + migrate.Stderr);
        return cs;
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_run_killed_mid_batch_leaves_no_session_behind_and_the_next_run_finishes_the_copy()
    {
        var cs = await MigratedLegacyDatabaseAsync("clikill", 3_000);
        await using var admin = await server.OpenAsync(cs);
        // The application holds a row, so the run is in the middle of a statement (waiting for that row) when killed.
        await using var holderTx = await admin.BeginTransactionAsync();
        await ScalarAsync<int>(admin, "SELECT 1 FROM todos WHERE id = (SELECT id FROM todos ORDER BY ctid OFFSET 300 LIMIT 1) FOR UPDATE");

        await using var watch = await server.OpenAsync(cs);
        using var run = Todoscale.Start(["migrate", "run", "--batch-size", "100", "--database", cs]);
        while (await ScalarAsync<long>(watch, "SELECT count(*) FROM migration_sessions() WHERE holds_lock") == 0)
        {
            Assert.False(run.HasExited, "migrate run ended before it took the migration lock");
            await Task.Delay(50);
        }

        while (await ScalarAsync<long>(watch, "SELECT count(*) FROM migration_progress WHERE step = 'wait'") == 0)
        {
            await Task.Delay(50);
        }

        run.Kill(entireProcessTree: true);
        await run.WaitForExitAsync();

        // The server notices the dead client within the batch's bound (or client_connection_check_interval).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await ScalarAsync<long>(watch, "SELECT count(*) FROM migration_sessions() WHERE holds_lock") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the killed run's session still holds the migration lock after 10 s");
            await Task.Delay(100);
        }

        await holderTx.CommitAsync();
        var resumed = await Todoscale.RunAsync(["migrate", "run", "--batch-size", "500", "--database", cs]);
        var validate = await Todoscale.RunAsync(["migrate", "validate", "--database", cs]);

        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains("backfill complete", resumed.Stdout);
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_held_migration_lock_is_named_by_run_and_status_and_takeover_ends_it()
    {
        var cs = await MigratedLegacyDatabaseAsync("clitakeover", 1_000);
        var orphanCs = new NpgsqlConnectionStringBuilder(cs) { ApplicationName = MigrationRunner.ApplicationName }.ConnectionString;
        await using var orphan = await server.OpenAsync(orphanCs);
        await ScalarAsync<bool>(orphan, "SELECT pg_try_advisory_lock(todoscale_migration_lock_key())");
        var pid = orphan.ProcessID;
        await using var sleepCmd = new NpgsqlCommand("SELECT pg_sleep(120)", orphan);
        var sleeping = sleepCmd.ExecuteNonQueryAsync();

        var busy = await Todoscale.RunAsync(["migrate", "run", "--database", cs]);
        var status = await Todoscale.RunAsync(["migrate", "status", "--database", cs]);
        var takeover = await Todoscale.RunAsync(["migrate", "run", "--takeover", "--database", cs]);

        Assert.Equal(5, busy.ExitCode);
        Assert.Contains($"pid {pid} (todoscale migrate run", busy.Stderr);
        Assert.Contains("--takeover", busy.Stderr);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains($"pid {pid} (todoscale migrate run)", status.Stdout);
        Assert.Contains("pg_sleep(120)", status.Stdout);
        Assert.True(takeover.ExitCode == 0, takeover.Stdout + takeover.Stderr);
        Assert.Contains("backfill complete", takeover.Stdout);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => sleeping);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task validate_names_the_ids_in_both_tables_and_repair_makes_every_check_pass()
    {
        var cs = await MigratedLegacyDatabaseAsync("clirepair", 1_500);
        Assert.Equal(0, (await Todoscale.RunAsync(["migrate", "run", "--database", cs])).ExitCode);
        await using var conn = await server.OpenAsync(cs);
        // A copy in both new tables, as the unguarded archival of earlier versions left them.
        var id = await ScalarAsync<Guid>(conn, """
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at
            FROM todos_active WHERE status = 'done' AND completed_at IS NOT NULL ORDER BY id LIMIT 1
            RETURNING id
            """);

        var failing = await Todoscale.RunAsync(["migrate", "validate", "--database", cs]);
        var repair = await Todoscale.RunAsync(["migrate", "repair", "--database", cs]);
        var passing = await Todoscale.RunAsync(["migrate", "validate", "--database", cs]);

        Assert.Equal(1, failing.ExitCode);
        // The table may wrap a long cell over lines: compare without white space.
        Assert.Contains($"{id}(duplicate)", string.Concat(failing.Stdout.Where(c => !char.IsWhiteSpace(c))));
        Assert.True(repair.ExitCode == 0, repair.Stdout + repair.Stderr);
        Assert.Contains("repaired 1 id(s); every validation check passes", repair.Stdout);
        Assert.Equal(0, passing.ExitCode);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task rollback_after_cutover_states_the_write_pause_and_needs_yes_when_nobody_can_confirm()
    {
        var cs = await MigratedLegacyDatabaseAsync("clirollback", 1_000);
        Assert.Equal(0, (await Todoscale.RunAsync(["migrate", "run", "--database", cs])).ExitCode);
        Assert.Equal(0, (await Todoscale.RunAsync(["migrate", "cutover", "--database", cs])).ExitCode);
        await using (var conn = await server.OpenAsync(cs))
        {
            // The pause is sized from the planner's row estimates, which ANALYZE makes exact here.
            await using var analyze = new NpgsqlCommand("ANALYZE todos_active, todos_archived", conn);
            await analyze.ExecuteNonQueryAsync();
        }

        var refused = await Todoscale.RunAsync(["migrate", "rollback", "--database", cs]);
        var stillCutOver = await Todoscale.RunAsync(["migrate", "status", "--database", cs]);
        var done = await Todoscale.RunAsync(["migrate", "rollback", "--yes", "--database", cs]);

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("rollback locks todos_active and todos_archived against writes for its whole transaction", refused.Stderr);
        Assert.Contains("for their ~1,000 rows", refused.Stderr);
        Assert.Contains("s per million rows on 2 cores", refused.Stderr);
        Assert.Contains("--yes", refused.Stderr);
        Assert.Contains("cut_over", stillCutOver.Stdout);
        Assert.True(done.ExitCode == 0, done.Stdout + done.Stderr);
        Assert.Contains("rolled back", done.Stdout);
    }
}
