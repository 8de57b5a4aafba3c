using System.Diagnostics;
using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

// The upkeep benchmark on a small grown bench database: it runs every upkeep on both layouts, one statement on the
// single table and one per partition on TodoScale, loses no row, and its report's verdicts follow the figures.
public sealed class UpkeepBenchTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task upkeep_runs_each_operation_on_the_whole_single_table_and_per_partition_on_todoscale_and_keeps_every_row()
    {
        var bench = BenchHarnessTests.SmallRun("") with
        {
            Clients = [1], Rounds = 1, GrowthRounds = 1, Operations = false, Queries = [QueryKind.Top20], GrowTo = 8_000, OutputDirectory = null,
        };
        await new BenchRunner(server.AdminConnectionString, bench, _ => { }, server.Binaries).RunAsync(TestContext.Current.CancellationToken);

        var options = new UpkeepBenchOptions { DatabaseName = bench.DatabaseName!, Warmup = TimeSpan.FromMilliseconds(300), Idle = TimeSpan.FromSeconds(1), OutputDirectory = null, CommandLine = "todoscale bench upkeep" };
        var result = await new UpkeepBench(server.AdminConnectionString, options, _ => { }).RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(UpkeepBench.AllOperations.SelectMany(o => new[] { (o, UpkeepBench.Single), (o, UpkeepBench.TodoScale) }),
            result.Runs.Select(r => (r.Operation, r.Layout)));
        Assert.All(result.Runs.Where(r => r.Layout == UpkeepBench.Single), r => Assert.Equal("bench_todos_grown", Assert.Single(r.Statements).Target));
        var partitions = result.ActivePartitions + result.ArchiveMonths + result.RecentPartitions;
        Assert.Equal(16, result.ActivePartitions);
        Assert.Equal(16, result.RecentPartitions);
        Assert.True(result.ArchiveMonths > 12, $"{result.ArchiveMonths} archive partitions: the history did not grow");
        Assert.Equal(partitions, result.Runs.Single(r => r is { Operation: "reindex", Layout: UpkeepBench.TodoScale }).Statements.Count);
        Assert.Equal(partitions, result.Runs.Single(r => r is { Operation: "vacuum", Layout: UpkeepBench.TodoScale }).Statements.Count);
        // Re-clustering covers the active partitions, the closed months and the recent rows' partitions, never the
        // DEFAULT partition or an open month.
        var clustered = result.Runs.Single(r => r is { Operation: "cluster", Layout: UpkeepBench.TodoScale }).Statements;
        Assert.InRange(clustered.Count, 33, partitions - 1);
        Assert.Equal(16, clustered.Count(s => s.Target.StartsWith("todos_archived_recent_part_", StringComparison.Ordinal)));
        Assert.DoesNotContain(clustered, s => s.Target.EndsWith("default", StringComparison.Ordinal));

        Assert.True(result.SingleRows >= bench.GrowTo && result.TodoScaleRows == result.SingleRows, $"single {result.SingleRows}, TodoScale {result.TodoScaleRows}");
        Assert.True(result.RowsKept, $"rows changed: {result.SingleRows} -> {result.SingleRowsAfter}, {result.TodoScaleRows} -> {result.TodoScaleRowsAfter}");
        Assert.Empty(result.ProbeErrors);
        Assert.All(result.Runs, r => Assert.True(r.IdleReads.Count > 0 && r.IdleWrites.Count > 0, $"{r.Operation}/{r.Layout}: the probe measured nothing idle"));

        var md = UpkeepReport.Markdown(result);
        foreach (var run in result.Runs)
        {
            Assert.Contains($"| {run.Operation} | {(run.Layout == UpkeepBench.Single ? "single table (b)" : "TodoScale")} | {run.Statements.Count:N0} |", md);
        }

        var ours = result.Runs.Single(r => r is { Operation: "cluster", Layout: UpkeepBench.TodoScale });
        Assert.Contains(ours.Longest.Duration <= UpkeepReport.LockTarget ? "Target (longest upkeep lock ≤ 2 s): **met**" : "**not met**", UpkeepReport.Verdict(result, "cluster"));
        Assert.Null(UpkeepReport.Verdict(result, "vacuum"));
        Assert.Contains("vacuum: takes no lock an application statement waits for", md);
        Assert.Contains("unchanged in both layouts", md);

        // The probe counts a request that waits on a lock in full, and its readers and writers wait apart: under an
        // ACCESS EXCLUSIVE table lock both wait; under a SHARE table lock only the writers do.
        var cs = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = bench.DatabaseName }.ConnectionString;
        var exclusive = await ProbeWhileLockedAsync(cs, "ACCESS EXCLUSIVE");
        Assert.True(exclusive.MaxReadMs >= 1_000 && exclusive.MaxWriteMs >= 1_000, $"ACCESS EXCLUSIVE for 1.5 s: longest read {exclusive.MaxReadMs:F0} ms, write {exclusive.MaxWriteMs:F0} ms");
        var share = await ProbeWhileLockedAsync(cs, "SHARE");
        Assert.True(share.MaxWriteMs >= 1_000 && share.MaxReadMs < 1_000, $"SHARE for 1.5 s: longest read {share.MaxReadMs:F0} ms, write {share.MaxWriteMs:F0} ms");
    }

    private static async Task<(double MaxReadMs, double MaxWriteMs)> ProbeWhileLockedAsync(string cs, string mode)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = NpgsqlDataSource.Create(cs);
        var users = new List<UpkeepTarget>();
        await using (var cmd = db.CreateCommand("SELECT user_id, id FROM bench_todos_grown WHERE status = 'todo' ORDER BY id LIMIT 20"))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                users.Add(new UpkeepTarget(reader.GetGuid(0), reader.GetGuid(1)));
            }
        }

        var layout = BenchLayouts.IndexedGrown;
        await using var probe = UpkeepProbe.Start(cs, layout, BenchQueries.Statements(QueryKind.Top20, layout.Kind, layout.Table),
            "UPDATE bench_todos_grown SET updated_at = now() WHERE user_id = $1 AND id = $2", users, 2, 7);
        await probe.ReadyAsync(ct);
        var from = Stopwatch.GetTimestamp();
        await using (var holder = await db.OpenConnectionAsync(ct))
        await using (var tx = await holder.BeginTransactionAsync(ct))
        {
            await using var lockTable = new NpgsqlCommand($"LOCK TABLE bench_todos_grown IN {mode} MODE", holder, tx);
            await lockTable.ExecuteNonQueryAsync(ct);
            // Held until the clients this mode blocks are seen queued on it: on a loaded machine a client may not send
            // its next request for a while, and a lock nobody waited for measures nothing.
            var blocked = mode == "ACCESS EXCLUSIVE" ? 2 : 1;
            var queued = 0L;
            for (var deadline = Stopwatch.GetTimestamp() + 20 * Stopwatch.Frequency; queued < blocked && Stopwatch.GetTimestamp() < deadline;)
            {
                await Task.Delay(20, ct);
                await using var waiting = db.CreateCommand(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'todoscale bench upkeep probe' AND wait_event_type = 'Lock'");
                queued = (long)(await waiting.ExecuteScalarAsync(ct))!;
            }

            Assert.True(queued >= blocked, $"{mode}: {queued} probe clients queued on the lock within 20 s, {blocked} expected");
            await Task.Delay(1_500, ct);
            await tx.CommitAsync(ct);
        }

        var to = Stopwatch.GetTimestamp();
        await Task.Delay(200, ct);
        await probe.StopAsync();
        Assert.Empty(probe.Errors);
        var window = probe.During(from, to);
        return (window.MaxReadMs, window.MaxWriteMs);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task upkeep_on_a_database_without_grown_history_says_which_run_to_do_first()
    {
        var name = $"upkeep_plain_{Guid.NewGuid():N}"[..24];
        var databases = new BenchDatabases(server.AdminConnectionString);
        await databases.CreateAsync(name, null, TestContext.Current.CancellationToken);
        try
        {
            var options = new UpkeepBenchOptions { DatabaseName = name, OutputDirectory = null };
            var missing = await Assert.ThrowsAsync<BenchDatabaseMissingException>(() => new UpkeepBench(server.AdminConnectionString, options, _ => { }).RunAsync(TestContext.Current.CancellationToken));
            Assert.Contains("bench run --grow-to", missing.Message);
            var absent = await Assert.ThrowsAsync<BenchDatabaseMissingException>(() =>
                new UpkeepBench(server.AdminConnectionString, options with { DatabaseName = name + "_absent" }, _ => { }).RunAsync(TestContext.Current.CancellationToken));
            Assert.Contains("does not exist", absent.Message);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await databases.DropAsync(name, TestContext.Current.CancellationToken);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void the_lock_verdict_follows_the_longest_partition_statement()
    {
        static UpkeepRun Run(string layout, double longestSeconds) => new("cluster", layout, [new("p", TimeSpan.FromSeconds(longestSeconds))], TimeSpan.FromSeconds(longestSeconds),
            Stats(), Stats(), Stats(), Stats(), 10, 20);
        static LatencyStats Stats() => new(10, 1, 1, 2, 3, 1.5);
        UpkeepBenchResult With(double ours)
        {
            var r = new UpkeepBenchResult { Options = new UpkeepBenchOptions(), Machine = new MachineInfo(2, 1024, "PostgreSQL 15", "128MB", "linux", ".NET") };
            r.Runs.Add(Run(UpkeepBench.Single, 90));
            r.Runs.Add(Run(UpkeepBench.TodoScale, ours));
            return r;
        }

        Assert.Contains("**met**", UpkeepReport.Verdict(With(0.75), "cluster"));
        Assert.Contains("120× shorter", UpkeepReport.Verdict(With(0.75), "cluster"));
        Assert.Contains("**not met**", UpkeepReport.Verdict(With(2.5), "cluster"));
    }
}
