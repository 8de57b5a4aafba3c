using Npgsql;
using TodoScale.Simulation.LegacyData;

namespace TodoScale.Cli.Tests;

/// <summary>The migrate, maintain and users commands as an operator runs them: output and exit codes.</summary>
public sealed class OperationsCommandTests(PostgresServer server)
{
    private async Task<string> LegacyDatabaseAsync(string prefix, int rows)
    {
        var cs = await server.CreateEmptyDatabaseAsync(prefix);
        await using var conn = await server.OpenAsync(cs);
        await LegacyDatabase.CreateSchemaAsync(conn);
        await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rows });
        return cs;
    }

    private const string Timestamp = @"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$";

    /// <summary>The rows of the plain (redirected) tables the CLI prints, by their first cell: "| state | cut_over |" -> state: [cut_over].</summary>
    private static Dictionary<string, string[]> TableRows(string stdout)
    {
        var rows = new Dictionary<string, string[]>();
        foreach (var line in stdout.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.StartsWith('|') && line.EndsWith('|'))
            {
                var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
                rows.TryAdd(cells[0], cells[1..]);
            }
        }

        return rows;
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task migrate_check_run_validate_and_cutover_take_a_legacy_table_to_the_new_layout()
    {
        var cs = await LegacyDatabaseAsync("climig", 4_000);
        Assert.Equal(0, (await Todoscale.RunAsync(["db", "migrate", "--database", cs])).ExitCode);

        var check = await Todoscale.RunAsync(["migrate", "check", "--database", cs]);
        var partial = await Todoscale.RunAsync(["migrate", "run", "--batch-size", "500", "--max-batches", "2", "--database", cs]);
        var early = await Todoscale.RunAsync(["migrate", "validate", "--database", cs]);
        var rest = await Todoscale.RunAsync(["migrate", "run", "--batch-size", "500", "--database", cs]);
        var validate = await Todoscale.RunAsync(["migrate", "validate", "--database", cs]);
        var cutover = await Todoscale.RunAsync(["migrate", "cutover", "--database", cs]);
        var status = await Todoscale.RunAsync(["migrate", "status", "--database", cs]);

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.True(partial.ExitCode == 0, partial.Stdout + partial.Stderr);
        Assert.Contains("stopped after 1,000 rows in 2 batches", partial.Stdout);
        Assert.Contains("3,000 rows remain", partial.Stdout);
        Assert.True(early.ExitCode == 1, early.Stdout + early.Stderr);
        Assert.Equal("FAIL", TableRows(early.Stdout)["total_rows"][^1]);
        Assert.True(rest.ExitCode == 0, rest.Stdout + rest.Stderr);
        Assert.Contains("backfill complete: 3,000 rows in 6 batches", rest.Stdout);
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);
        Assert.DoesNotContain("FAIL", validate.Stdout);
        Assert.Matches(@"all \d+ checks pass", validate.Stdout);
        Assert.True(cutover.ExitCode == 0, cutover.Stdout + cutover.Stderr);
        Assert.Contains("cut over: todos is read-only", cutover.Stdout);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        // Each row of the status table by its label: "archive cutoff" and "cut over" are both there, so only
        // the row itself says whether the cutover was recorded.
        var rows = TableRows(status.Stdout);
        Assert.Equal(["cut_over"], rows["state"]);
        Assert.Equal(["4,000"], rows["rows moved"]);
        Assert.Equal(["0"], rows["rows remaining"]);
        Assert.Equal(["not installed"], rows["mirror trigger"]);
        Assert.Matches(Timestamp, Assert.Single(rows["cut over"]));
        Assert.Matches(Timestamp, Assert.Single(rows["archive cutoff"]));
        Assert.Equal(["-"], rows["rolled back"]);
        await using var conn = await server.OpenAsync(cs);
        await using var count = new NpgsqlCommand("SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)", conn);
        Assert.Equal(4_000L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task migrate_check_and_run_stop_with_exit_1_when_a_status_is_unknown()
    {
        var cs = await LegacyDatabaseAsync("cliblock", 500);
        await using (var conn = await server.OpenAsync(cs))
        {
            await using var cmd = new NpgsqlCommand("UPDATE todos SET status = 'someday' WHERE id IN (SELECT id FROM todos LIMIT 3)", conn);
            await cmd.ExecuteNonQueryAsync();
        }

        var migrate = await Todoscale.RunAsync(["db", "migrate", "--database", cs]);
        var check = await Todoscale.RunAsync(["migrate", "check", "--database", cs]);
        var run = await Todoscale.RunAsync(["migrate", "run", "--database", cs]);

        Assert.True(migrate.ExitCode == 0, migrate.Stdout + migrate.Stderr);
        Assert.True(check.ExitCode == 1, check.Stdout + check.Stderr);
        Assert.Contains("someday", check.Stdout + check.Stderr);
        Assert.True(run.ExitCode == 1, run.Stdout + run.Stderr);
        Assert.Contains("migration blocked by", run.Stderr);
        await using var verify = await server.OpenAsync(cs);
        await using var moved = new NpgsqlCommand("SELECT count(*) FROM todos_active", verify);
        Assert.Equal(0L, (long)(await moved.ExecuteScalarAsync())!);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task maintain_daily_prints_its_steps_and_health_and_stats_report_on_a_migrated_database()
    {
        var cs = await server.CreateMigratedDatabaseAsync("climaint");

        var daily = await Todoscale.RunAsync(["maintain", "daily", "--database", cs]);
        var health = await Todoscale.RunAsync(["maintain", "health", "--database", cs]);
        var stats = await Todoscale.RunAsync(["maintain", "stats", "--database", cs]);

        Assert.True(daily.ExitCode == 0, daily.Stdout + daily.Stderr);
        var steps = TableRows(daily.Stdout);
        Assert.Equal(["OK", "0"], steps["archive"][..2]);
        Assert.Equal("OK", steps["partitions"][0]);
        Assert.Matches(@"daily maintenance run \d+ finished", daily.Stdout);
        Assert.True(health.ExitCode == 0, health.Stdout + health.Stderr);
        Assert.Equal("OK", TableRows(health.Stdout)["default_partition_empty"][0]);
        Assert.True(stats.ExitCode == 0, stats.Stdout + stats.Stderr);
        Assert.Equal("todos_active", TableRows(stats.Stdout)["todos_active_part_0"][0]);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task maintain_health_exits_1_when_a_check_is_critical()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clicrit");
        await using (var conn = await server.OpenAsync(cs))
        {
            // An index declared ON ONLY the parent leaves every partition without it: queries there fall back to scans.
            await using var cmd = new NpgsqlCommand("""
                CREATE INDEX idx_todos_active_title ON ONLY todos_active (title);
                """, conn);
            await cmd.ExecuteNonQueryAsync();
        }

        var health = await Todoscale.RunAsync(["maintain", "health", "--database", cs]);

        Assert.True(health.ExitCode == 1, health.Stdout + health.Stderr);
        Assert.Equal("CRITICAL", TableRows(health.Stdout)["partition_indexes"][0]);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task users_add_creates_a_user_and_prints_a_bearer_token_and_rejects_a_missing_email()
    {
        var cs = await server.CreateMigratedDatabaseAsync("cliusers");
        var dir = Directory.CreateTempSubdirectory("todoscale-users");
        try
        {
            var env = new Dictionary<string, string?> { ["TODOSCALE_DATA_DIR"] = Path.Combine(dir.FullName, "pg") };
            var add = await Todoscale.RunAsync(["users", "add", "--email", "ann@example.com", "--database", cs], env, dir.FullName);
            var missing = await Todoscale.RunAsync(["users", "add", "--database", cs], env, dir.FullName);

            Assert.True(add.ExitCode == 0, add.Stdout + add.Stderr);
            Assert.Matches(@"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", add.Stdout.Trim().Split('\n')[^1].Trim());
            Assert.Equal(2, missing.ExitCode);
            Assert.Contains("--email", missing.Stderr + missing.Stdout);
            await using var conn = await server.OpenAsync(cs);
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM users WHERE email = 'ann@example.com'", conn);
            Assert.Equal(1L, (long)(await cmd.ExecuteScalarAsync())!);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
