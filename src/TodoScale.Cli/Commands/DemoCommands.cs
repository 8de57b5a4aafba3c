using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TodoScale.Api.Hosting;
using TodoScale.Api.Pages;
using TodoScale.Database.Maintenance;
using TodoScale.Database.Migration;
using Npgsql;
using TodoScale.Cli.Demo;
using TodoScale.Cli.Infrastructure;
using TodoScale.Simulation.LegacyData;
using TodoScale.Simulation.LegacyWriters;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>
/// todoscale demo: the scaling guide end to end on the built-in database, as a newcomer's first look.
/// Creates a legacy application database, scales it phase by phase, and serves the API on it.
/// </summary>
public static class DemoCommands
{
    public static Command Create(CliContext ctx)
    {
        var rows = new Option<int>("--rows") { Description = "Todos in the generated legacy table.", DefaultValueFactory = _ => 200_000 }.Between(1_000, 50_000_000);
        var dbName = new Option<string>("--demo-database") { Description = "Name of the demo database (dropped and re-created).", DefaultValueFactory = _ => "todoscale_demo" }
            .Refusing(OptionRules.DatabaseName(63));
        var noServe = new Option<bool>("--no-serve") { Description = "Stop after the scaling phases instead of serving the API." };
        var urls = new Option<string>("--urls") { Description = "Where the API listens.", DefaultValueFactory = _ => "http://127.0.0.1:5080" }.Refusing(OptionRules.HttpUrls);

        var demo = new Command("demo", "Run the scaling guide end to end on the built-in database: legacy table, schema, live migration, validation, maintenance, indexes, health, then serve the API.");
        demo.Options.Add(rows);
        demo.Options.Add(dbName);
        demo.Options.Add(noServe);
        demo.Options.Add(urls);
        var workers = DemoScaleOut.WorkersOption();
        demo.Options.Add(workers);
        demo.SetHandler(async (parse, ct) =>
        {
            var rowCount = parse.GetValue(rows);
            if (rowCount is < 1_000 or > 50_000_000)
            {
                throw new ArgumentException("--rows must be between 1000 and 50000000.");
            }

            var server = parse.GetValue(workers) is { } workerCount
                ? await DemoScaleOut.StartAsync(ctx, parse, workerCount, parse.GetValue(dbName)!, ct)
                : await ctx.ResolveConnectionStringAsync(parse, ct);
            var cs = await RecreateDatabaseAsync(server, parse.GetValue(dbName)!, ct);

            await DemoSteps.RunAsync("The legacy application: one todos table", async () =>
            {
                await using var conn = new NpgsqlConnection(cs);
                await conn.OpenAsync(ct);
                await LegacyDatabase.CreateSchemaAsync(conn, ct);
                LegacyDataSummary? summary = null;
                await DemoSteps.WithProgressAsync("generating todos", rowCount, async progress =>
                    summary = await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rowCount }, progress, ct));
                return $"{summary!.Todos:N0} todos of {summary.Users:N0} users ({summary.HeavyUsers:N0} heavy users), {summary.Done:N0} done, a year of history";
            });

            await DemoSteps.RunAsync("Phases 1 and 5: the partitioned layout and its indexes", async () =>
            {
                var applied = await new SchemaMigrator(cs).MigrateAsync(s => Ui.Info($"  applied {s}"), ct: ct);
                return $"{applied.Count} scripts applied: todos_active in 16 hash partitions, monthly todos_archived, ai_todo_interactions";
            });

            var migration = new LegacyMigration(cs);
            var blocking = await DemoSteps.RunAsync("Phase 2: preflight of the legacy table", async () =>
            {
                var issues = await migration.PreflightAsync(ct);
                if (issues.Count > 0)
                {
                    Ui.Table(["check", "severity", "rows", "handling"],
                        issues.Select(i => (IReadOnlyList<string>)[i.CheckName, i.Severity, i.AffectedRows.ToString("N0", CultureInfo.InvariantCulture), i.Handling]));
                }

                return issues.Count(i => i.IsBlocking);
            }, n => n == 0 ? "nothing blocks the migration" : $"{n} blocking issue(s)");
            if (blocking > 0)
            {
                return ExitCodes.CheckFailed;
            }

            await DemoSteps.RunAsync("Phase 2: live migration while the legacy application keeps writing", async () =>
            {
                // The simulated legacy app writes throughout the copy; the mirror trigger carries every write over.
                using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var writers = new LegacyWriterSimulator(cs, new LegacyWriterOptions { Connections = 4, ThinkTime = TimeSpan.FromMilliseconds(5) });
                var writing = writers.RunAsync(stopWriters.Token);
                MigrationRunResult? result = null;
                // Counted against the rows this run has to copy (the runner's total grows with the legacy
                // application's inserts), not the rows generated before it: "200,543 of 200,000" said nothing.
                await DemoSteps.WithProgressAsync("copying todos", rowCount, async progress =>
                    result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions(),
                        new Progress<MigrationProgress>(p => progress.Report((p.RowsDone, p.RowsTotal))), ct));
                // Writes that land after the last batch must reach the new tables too.
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
                await stopWriters.CancelAsync();
                var report = await writing;
                Ui.Info($"  legacy writers: {report.TotalOperations:N0} statements (insert, update, complete, delete), " +
                        $"latency p50 {report.Latency.P50Ms:0.0} ms, p99 {report.Latency.P99Ms:0.0} ms, {report.TotalErrors} failed" +
                        (report.TotalErrors == 0 ? "" : ":"));
                foreach (var line in report.DescribeErrors())
                {
                    Ui.Info($"    {line}");
                }
                return $"{result!.RowsMovedThisRun:N0} rows copied in {result.BatchesThisRun:N0} committed batches, {result.RowsPerSecond:N0} rows/s";
            });

            var checks = await DemoSteps.RunAsync("Phase 2: validate_migration()", async () =>
            {
                var rows = await migration.ValidateAsync(ct);
                Ui.Table(["check", "expected", "actual", "status"],
                    rows.Select(r => (IReadOnlyList<string>)[r.CheckName, r.Expected, r.Actual, r.Status]),
                    r => r[3] == "PASS" ? Color.Green : Color.Red);
                return rows;
            }, rows => $"{rows.Count(r => r.Passed)} of {rows.Count} checks PASS");
            if (checks.Any(c => !c.Passed))
            {
                return ExitCodes.CheckFailed;
            }

            await DemoSteps.RunAsync("Phase 2: cutover", async () =>
            {
                await migration.CutoverAsync(force: false, ct);
                return "the application now uses todos_active and todos_archived; the legacy todos table is kept (read-only) for rollback";
            });

            var maintenance = new MaintenanceRunner(cs);
            await DemoSteps.RunAsync("Phase 3: run_daily_maintenance()", async () =>
            {
                var run = await maintenance.RunDailyAsync(ct);
                Ui.Table(["step", "status", "rows", "ms", "detail"],
                    run.Steps.Select(st => (IReadOnlyList<string>)[st.Step, st.Status, st.RowsAffected.ToString("N0", CultureInfo.InvariantCulture),
                        st.DurationMs.ToString("0", CultureInfo.InvariantCulture), st.Detail ?? ""]));
                return run.Failed ? "a step failed (see the table)" : "archival, partitions ahead and statistics done";
            });

            await DemoSteps.RunAsync("Phase 5: the guide's top-20 query for the heaviest user", async () =>
            {
                await using var conn = new NpgsqlConnection(cs);
                await conn.OpenAsync(ct);
                await using var heaviest = new NpgsqlCommand("SELECT user_id FROM todos_active GROUP BY user_id ORDER BY count(*) DESC LIMIT 1", conn);
                var user = (Guid)(await heaviest.ExecuteScalarAsync(ct))!;
                await using var explain = new NpgsqlCommand(
                    "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM todos_active WHERE user_id = $1 AND status = 'todo' ORDER BY priority DESC LIMIT 20", conn);
                explain.Parameters.AddWithValue(user);
                var lines = new List<string>();
                await using (var reader = await explain.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        lines.Add(reader.GetString(0));
                    }
                }

                foreach (var line in lines)
                {
                    Ui.Info("  " + line);
                }

                return lines.FirstOrDefault(l => l.Contains("Execution Time", StringComparison.Ordinal))?.Trim() ?? "";
            });

            await DemoSteps.RunAsync("Health check and partition statistics", async () =>
            {
                var health = await maintenance.CheckHealthAsync(ct);
                Ui.Table(["check", "status", "detail"], health.Select(h => (IReadOnlyList<string>)[h.Name, h.Status, h.Detail]),
                    r => r[1] == "OK" ? Color.Green : r[1] == "WARNING" ? Color.Yellow : Color.Red);
                var stats = await maintenance.GetPartitionStatisticsAsync(ct);
                Ui.Table(["partition", "parent", "rows", "size MB"],
                    stats.OrderByDescending(x => x.SizeMb).Take(12).Select(x => (IReadOnlyList<string>)
                        [x.Partition, x.Parent, x.RowEstimate.ToString("N0", CultureInfo.InvariantCulture), x.SizeMb.ToString("0.00", CultureInfo.InvariantCulture)]));
                return $"{health.Count(h => h.Status == "OK")} of {health.Count} checks OK; {stats.Count} partitions (largest 12 shown)";
            });

            if (parse.GetValue(workers) is not null)
            {
                await DemoScaleOut.DistributeAsync(ctx, parse, cs, ct);
            }

            if (parse.GetValue(noServe))
            {
                Ui.Info($"Demo database: {new NpgsqlConnectionStringBuilder(cs).Database}. Serve it with: todoscale serve --database \"{cs}\"");
                return ExitCodes.Success;
            }

            return await ApiServer.RunAsync(ctx, parse, cs, [parse.GetValue(urls)!], async (app, url) =>
            {
                var token = await TodoScaleApi.CreateUserTokenAsync(app, "demo@example.com", ct: ct);
                Ui.Success($"The TodoScale API is serving the demo database on {url} (Ctrl-C stops it)");
                Ui.Info($"  API reference: {url}/scalar");
                Ui.Info($"  token for demo@example.com: {token}");
                Ui.Info($"  curl -s -X POST {url}/api/todos -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"title\":\"Try TodoScale\",\"priority\":3}}'");
                Ui.Info($"  curl -s {url}/api/todos -H 'Authorization: Bearer {token}'");
                // The demo's user is its operator too: one link opens both pages. One-time, so a second browser needs
                // `todoscale users sign-in-link --email demo@example.com --operator`.
                var signIn = await TodoScalePages.CreateSignInLinkAsync(app, url, "demo@example.com", isOperator: true, TimeSpan.FromHours(1), ct);
                Ui.Info($"  todo app: {url}/   operator console: {url}/ops");
                Ui.Info($"  sign in (once, within an hour): {signIn}");
            }, ct);
        });
        return demo;
    }

    private static async Task<string> RecreateDatabaseAsync(string serverConnection, string name, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(serverConnection) { Database = "postgres" }.ConnectionString);
        await conn.OpenAsync(ct);
        foreach (var template in new[] { "DROP DATABASE IF EXISTS %I WITH (FORCE)", "CREATE DATABASE %I" })
        {
            // Identifiers cannot be parameters; format('%I') on the server quotes the name safely.
            await using var build = new NpgsqlCommand("SELECT format($1, $2::text)", conn);
            build.Parameters.AddWithValue(template);
            build.Parameters.AddWithValue(name);
            await using var run = new NpgsqlCommand((string)(await build.ExecuteScalarAsync(ct))!, conn);
            await run.ExecuteNonQueryAsync(ct);
        }

        return new NpgsqlConnectionStringBuilder(serverConnection) { Database = name }.ConnectionString;
    }
}
