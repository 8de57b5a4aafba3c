using System.Diagnostics;
using Npgsql;
using TodoScale.Application.Data;

namespace TodoScale.Benchmarks;

/// <summary>
/// <c>todoscale bench upkeep</c>: where partitioning really wins. On the database a <c>bench run --grow-to</c> left
/// (the grown single table (b) and TodoScale with its grown archive: the same 10M rows), it times the operator's upkeep
/// on each layout (Sql/upkeep_statements.sql: re-clustering, reindex, VACUUM FREEZE), one statement on the whole single
/// table against one statement per partition, while a probe runs the application's reads and writes on that layout.
/// The longest statement is the longest lock; the probe's longest wait is what the application felt.
/// </summary>
public sealed class UpkeepBench(string serverConnectionString, UpkeepBenchOptions options, Action<string> log)
{
    public const string Single = "single";
    public const string TodoScale = "todoscale";

    public static readonly IReadOnlyList<string> AllOperations = ["cluster", "reindex", "vacuum"];

    // The probe's targets: enough open todos that two writers rarely update the same row at once.
    private const int Targets = 2_000;

    // A one-row update of an open todo by user and id, as each edit of the application is (TodoQueries.Update).
    private static readonly SqlTemplate Write = new("UPDATE {todos_active} SET updated_at = now() WHERE user_id = $1 AND id = $2");

    public async Task<UpkeepBenchResult> RunAsync(CancellationToken ct)
    {
        options.Validate();
        var databases = new BenchDatabases(serverConnectionString);
        if (!await databases.ExistsAsync(options.DatabaseName, ct))
        {
            throw new BenchDatabaseMissingException($"database {options.DatabaseName} does not exist: run `todoscale bench run --grow-to 10000000` first (or name its database with --bench-database).");
        }

        // Without a command timeout (BenchDatabases): counting 10M rows twice and every upkeep statement take minutes.
        var cs = databases.ConnectionString(options.DatabaseName);
        await using var db = NpgsqlDataSource.Create(cs);
        if (!await BenchRunner.ScalarAsync<bool>(db, "SELECT to_regclass('bench_todos_grown') IS NOT NULL AND to_regprocedure('bench_set_history(boolean)') IS NOT NULL", ct))
        {
            throw new BenchDatabaseMissingException($"database {options.DatabaseName} has no grown history: run `todoscale bench run --grow-to 10000000` first.");
        }

        var started = Stopwatch.StartNew();
        var result = new UpkeepBenchResult { Options = options, Machine = await BenchRunner.MachineAsync(db, ct), StartedUtc = DateTime.UtcNow };
        // Both layouts hold the grown history: the single table always, TodoScale once its added months are attached.
        await BenchRunner.ScalarAsync<int>(db, "SELECT bench_set_history(true)", ct);
        (result.SingleRows, result.TodoScaleRows) = await CountAsync(db, ct);
        result.ActivePartitions = await BenchRunner.ScalarAsync<int>(db, "SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'todos_active'::regclass", ct);
        result.ArchiveMonths = await BenchRunner.ScalarAsync<int>(db, "SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass", ct);
        result.RecentPartitions = await BenchRunner.ScalarAsync<int>(db, "SELECT count(*)::int FROM pg_inherits WHERE inhparent = to_regclass('todos_archived_recent')", ct);
        log($"{result.SingleRows:N0} rows in the single table, {result.TodoScaleRows:N0} in TodoScale ({result.ActivePartitions} active partitions, {result.ArchiveMonths} archive partitions, {result.RecentPartitions} of the archive's recent rows)");

        var plan = await PlanAsync(db, ct);
        var targets = await TargetsAsync(db, ct);
        var archivedThrough = await BenchRunner.ScalarAsync<DateTime>(db, "SELECT max(completed_at) FROM todos_archived", ct);
        var context = BenchQueryContext.At(DateTime.UtcNow, archivedThrough);
        var layouts = new[] { (Single, BenchLayouts.IndexedGrown), (TodoScale, BenchLayouts.FinalGrown) };
        var seed = options.Seed;
        foreach (var operation in options.Operations)
        {
            foreach (var (key, layout) in layouts)
            {
                var statements = plan.Where(p => p.Operation == operation && p.Layout == key).ToList();
                if (statements.Count == 0)
                {
                    throw new BenchDatabaseMissingException($"no {operation} statement for the {key} layout: {options.DatabaseName} is not a complete `todoscale bench run --grow-to` database.");
                }

                result.Runs.Add(await MeasureAsync(cs, operation, key, layout, statements, targets, context, seed++, result.ProbeErrors, ct));
                var run = result.Runs[^1];
                log($"  {operation,-8} {key,-9} {run.Statements.Count,4} statements {run.Total.TotalSeconds,8:F1} s, longest {run.Longest.Duration.TotalSeconds:F2} s ({run.Longest.Target}); " +
                    $"probe write p99 {run.IdleWrites.P99Ms:F1} -> {run.Writes.P99Ms:F1} ms, max {run.MaxWriteMs:F0} ms; read max {run.MaxReadMs:F0} ms");
            }
        }

        (result.SingleRowsAfter, result.TodoScaleRowsAfter) = await CountAsync(db, ct);
        result.Total = started.Elapsed;
        return result;
    }

    private async Task<UpkeepRun> MeasureAsync(string cs, string operation, string key, BenchLayout layout, List<(string Operation, string Layout, string Target, string Sql)> statements,
        IReadOnlyList<UpkeepTarget> targets, BenchQueryContext context, int seed, List<string> errors, CancellationToken ct)
    {
        var reads = BenchQueries.Statements(QueryKind.ListWithArchive, layout.Kind, layout.Table, context);
        var write = Write.Render(new Dictionary<string, string> { ["todos_active"] = layout.Kind == LayoutKind.SingleTable ? layout.Table : "todos_active" });
        // One connection, autocommit: each statement is its own transaction, so each partition's lock ends with it.
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = "todoscale bench upkeep" }.ConnectionString);
        await conn.OpenAsync(ct);
        // The previous upkeep rewrote gigabytes: without a checkpoint here, its dirty pages are written out during this
        // layout's idle window and upkeep, and the layout measured second pays for the one measured first.
        await using (var checkpoint = new NpgsqlCommand("CHECKPOINT", conn) { CommandTimeout = 0 })
        {
            await checkpoint.ExecuteNonQueryAsync(ct);
        }

        await using var probe = UpkeepProbe.Start(cs, layout, reads, write, targets, options.ProbeClients, seed);
        // Unmeasured: each probe connection's first calls plan its statements and load the relation caches of every
        // partition (321 after growth), and the upkeep before this one evicted the layout's pages.
        await probe.ReadyAsync(ct);
        await Task.Delay(options.Warmup, ct);
        var idleFrom = Stopwatch.GetTimestamp();
        await Task.Delay(options.Idle, ct);
        var from = Stopwatch.GetTimestamp();
        var done = new List<UpkeepStatement>(statements.Count);
        foreach (var s in statements)
        {
            var t0 = Stopwatch.GetTimestamp();
            await using var cmd = new NpgsqlCommand(s.Sql, conn) { CommandTimeout = 0 };
            await cmd.ExecuteNonQueryAsync(ct);
            done.Add(new UpkeepStatement(s.Target, Stopwatch.GetElapsedTime(t0)));
        }

        var to = Stopwatch.GetTimestamp();
        await probe.StopAsync();
        errors.AddRange(probe.Errors.Select(e => $"{operation} on {key}: {e}"));
        var idle = probe.Idle(idleFrom, from);
        var during = probe.During(from, to);
        return new UpkeepRun(operation, key, done, Stopwatch.GetElapsedTime(from, to), idle.Reads, idle.Writes, during.Reads, during.Writes, during.MaxReadMs, during.MaxWriteMs);
    }

    private static async Task<List<(string Operation, string Layout, string Target, string Sql)>> PlanAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var plan = new List<(string, string, string, string)>();
        await using var cmd = db.CreateCommand(BenchRunner.EmbeddedSql("upkeep_statements.sql"));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            plan.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }

        return plan;
    }

    // Open todos of the skewed users, which exist with the same id in the single table (it is a copy of the legacy rows).
    private static async Task<List<UpkeepTarget>> TargetsAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var list = new List<UpkeepTarget>(Targets);
        await using var cmd = db.CreateCommand(
            "SELECT a.user_id, a.id FROM todos_active a JOIN bench_todos_grown g ON g.id = a.id AND g.user_id = a.user_id " +
            "WHERE a.status IN ('todo', 'in_progress') AND a.user_id IN (SELECT user_id FROM bench_pick) ORDER BY a.id LIMIT $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = Targets });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            list.Add(new UpkeepTarget(reader.GetGuid(0), reader.GetGuid(1)));
        }

        return list.Count > 0 ? list : throw new BenchDatabaseMissingException("no open todo of the benchmark users is in both layouts: not a complete `todoscale bench run --grow-to` database.");
    }

    private static async Task<(long Single, long TodoScale)> CountAsync(NpgsqlDataSource db, CancellationToken ct) =>
        (await BenchRunner.ScalarAsync<long>(db, "SELECT count(*) FROM bench_todos_grown", ct),
         await BenchRunner.ScalarAsync<long>(db, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)", ct));
}
