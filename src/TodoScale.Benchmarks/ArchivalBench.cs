using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;
using TodoScale.Api.Hosting;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;
using TodoScale.Database.Schema;

namespace TodoScale.Benchmarks;

/// <summary>What `todoscale bench archival` generates and measures.</summary>
public sealed record ArchivalBenchOptions
{
    /// <summary>Done todos completed 40-70 days ago: what archival moves.</summary>
    public long DoneRows { get; init; } = 1_000_000;

    /// <summary>Open todos (todo, in_progress): they stay, and the probe lists them.</summary>
    public long OpenRows { get; init; } = 200_000;

    /// <summary>Done todos completed 1-29 days ago: they must stay too (the cutoff is respected).</summary>
    public long RecentRows { get; init; } = 10_000;

    public int Users { get; init; } = 10_000;
    public int BatchSize { get; init; } = 5_000;

    /// <summary>Requests per second of the open-loop probe (--closed-loop adds a separate closed-loop pass).</summary>
    public double ProbeRate { get; init; } = 200;
    public int ProbeConnections { get; init; } = 4;
    public TimeSpan ProbeWarmup { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan After { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Each variant runs once per round, on a fresh copy; figures are medians over the rounds.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Also run every variant once more with a closed-loop probe of one client (the hand measurement's method).</summary>
    public bool ClosedLoop { get; init; }

    public IReadOnlyList<string> Variants { get; init; } = ArchivalVariants.DefaultKeys;

    /// <summary>The pause after each batch's commit of the throttled variant.</summary>
    public TimeSpan Throttle { get; init; } = ArchivalVariants.DefaultThrottle;

    /// <summary>Reuse the template of an earlier run with the same data options (filled less than a week ago).</summary>
    public bool Reuse { get; init; }

    /// <summary>Share of all todos owned by the heaviest 1% of users.</summary>
    public double HeavyShare { get; init; } = 0.35;

    public double Seed { get; init; } = 0.42;
    public string DatabaseName { get; init; } = "todoscale_bench_archival";
    public string CommandLine { get; init; } = "todoscale bench archival";

    public void Validate()
    {
        if (DoneRows < 100 || DoneRows > 100_000_000)
        {
            throw new ArgumentException($"--done-rows must be between 100 and 100000000 (got {DoneRows}).");
        }

        if (OpenRows < 0 || OpenRows > 100_000_000 || RecentRows < 0 || RecentRows > 100_000_000)
        {
            throw new ArgumentException("--open-rows and --recent-rows must be between 0 and 100000000.");
        }

        if (Users is < 1 or > 10_000_000)
        {
            throw new ArgumentException($"--users must be between 1 and 10000000 (got {Users}).");
        }

        if (BatchSize is < 1 or > 1_000_000)
        {
            throw new ArgumentException($"--batch-size must be between 1 and 1000000 (got {BatchSize}).");
        }

        if (!(ProbeRate is > 0 and <= 20_000) || ProbeConnections is < 1 or > 64)
        {
            throw new ArgumentException($"--probe-rate must be above 0 and at most 20000 per second, --probe-connections 1..64 (got {ProbeRate}, {ProbeConnections}).");
        }

        if (ProbeWarmup < TimeSpan.Zero || Idle <= TimeSpan.Zero || After < TimeSpan.Zero)
        {
            throw new ArgumentException("--idle-seconds must be above 0; --warmup-seconds and --after-seconds 0 or more.");
        }

        if (Rounds is < 1 or > 20)
        {
            throw new ArgumentException($"--rounds must be between 1 and 20 (got {Rounds}).");
        }

        if (HeavyShare is < 0 or > 1)
        {
            throw new ArgumentException($"the heavy users' share must be between 0 and 1 (got {HeavyShare}).");
        }

        if (Throttle < TimeSpan.Zero || Throttle > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"--throttle-ms must be between 0 and 10000 (got {Throttle.TotalMilliseconds}).");
        }

        if (Variants.Count == 0)
        {
            throw new ArgumentException($"--variants needs at least one of {string.Join(", ", ArchivalVariants.AllKeys)}.");
        }

        foreach (var key in Variants)
        {
            _ = ArchivalVariants.Get(key);
        }

        if (!Regex.IsMatch(DatabaseName, "^[a-z_][a-z0-9_]{0,40}$"))
        {
            throw new ArgumentException($"--bench-database '{DatabaseName}' must be lower-case letters, digits and underscores (at most 41).");
        }
    }
}

/// <summary>One way of archiving the same rows (or, for the CPU control, of keeping a core as busy without archiving).</summary>
public sealed record ArchivalVariant(string Key, string Label, string Statement, bool MovesRows);

/// <summary>The archival forms the benchmark compares: the application's SQL of 003, and the single statement as the limit.</summary>
public static class ArchivalVariants
{
    public const string Single = "single";
    public const string Procedure = "procedure";
    public const string Function = "function";
    public const string Throttled = "throttled";
    public const string CpuControl = "cpu";

    /// <summary>Done todos older than this move, as in the daily job's default (maintenance_settings.archive_after_days).</summary>
    public const int Days = 30;

    public static IReadOnlyList<string> AllKeys { get; } = [Single, Procedure, Function, Throttled, CpuControl];
    public static IReadOnlyList<string> DefaultKeys => AllKeys;

    public static ArchivalVariant Get(string key, int batchSize = 5_000, TimeSpan? throttle = null) => key switch
    {
        Single => new(Single, "(a) single statement `WITH d AS (DELETE … RETURNING *) INSERT INTO todos_archived … SELECT … FROM d` (the limit)",
            BenchRunner.EmbeddedSql("archival_single_statement.sql"), true),
        Procedure => new(Procedure, $"(b) `CALL archive_completed_todos_in_batches({Days}, {batchSize})` (commits each batch; a backlog is walked page by page)",
            "CALL archive_completed_todos_in_batches($1, $2)", true),
        Function => new(Function, $"(c) `SELECT archive_completed_todos({Days}, {batchSize})` (batches in one transaction)",
            "SELECT archive_completed_todos($1, $2)", true),
        Throttled => new(Throttled, $"(d) `CALL archive_completed_todos_in_batches({Days}, {batchSize}, throttle => '{Ms(throttle ?? DefaultThrottle)} ms')` (b with a pause after each commit)",
            "CALL archive_completed_todos_in_batches($1, $2, throttle => $3)", true),
        CpuControl => new(CpuControl, "(control) one backend burning a core as long as the single statement took, touching no table",
            "SELECT bench_archival_burn_cpu($1)", false),
        _ => throw new ArgumentException($"unknown archival variant '{key}'; use {string.Join(", ", AllKeys)}."),
    };

    public static TimeSpan DefaultThrottle { get; } = TimeSpan.FromMilliseconds(60);

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>
    /// Binds the statement's parameters: $1 days, $2 batch size (the batched forms), $3 the pause (throttled); the CPU
    /// control's only parameter is how long to burn.
    /// </summary>
    internal static void Bind(NpgsqlCommand cmd, ArchivalVariant variant, int batchSize, TimeSpan throttle, double controlSeconds)
    {
        if (variant.Key == CpuControl)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = controlSeconds });
            return;
        }

        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = Days });
        if (variant.Key != Single)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = batchSize });
        }

        if (variant.Key == Throttled)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = throttle });
        }
    }
}

/// <summary>Latency figures of one window of the probe, in milliseconds.</summary>
/// <param name="EntriesPerQuery">
/// Index entries the list statement read per query (pg_stat_user_indexes.idx_tup_read of its index over the window,
/// divided by the queries): above the rows it returns when it steps over entries of deleted rows. Approximate: a
/// backend reports its statistics up to a second late.
/// </param>
/// <param name="P99WithoutClientLag">p99 of the latency from the due time minus the client's own lag (<see cref="ProbeSample.ClientLag"/>): what a client on another machine would have seen.</param>
/// <param name="ClientLagP99">p99 of the client's own lag.</param>
public sealed record ProbeWindow(long Count, double Seconds, double P50, double P95, double P99, double Max, double ServiceP99, double EntriesPerQuery,
    double P99WithoutClientLag = double.NaN, double ClientLagP99 = double.NaN)
{
    public double PerSecond => Seconds > 0 ? Count / Seconds : 0;

    /// <summary>
    /// Share of the machine's CPU time (all cores, every process: this run's and anyone else's) that was busy in the
    /// window, from /proc/stat; NaN elsewhere. A high figure in an idle window means the machine was shared.
    /// </summary>
    public double CpuBusy { get; init; } = double.NaN;

    /// <summary>
    /// CPU time the probe's server backends spent per query (from /proc, 10 ms ticks, so only an average over many
    /// queries means anything); NaN for a server on another machine. Unlike latency, it does not grow when the query
    /// merely waits for a core: it grows when each query does more work.
    /// </summary>
    public double ProbeCpuMsPerQuery { get; init; } = double.NaN;

    /// <summary>Time per query the probe's server backends waited for a CPU while ready to run (/proc/&lt;pid&gt;/schedstat); NaN for a remote server.</summary>
    public double ProbeRunQueueMsPerQuery { get; init; } = double.NaN;

    /// <summary>Blocks of the list query's index per query that were not in shared_buffers (read from the OS): archival evicting the application's pages.</summary>
    public double IndexBlocksReadPerQuery { get; init; } = double.NaN;
}

/// <summary>The server's work while one variant ran (cluster-wide WAL and checkpoint counters, this copy's tables).</summary>
/// <param name="ArchiverCpuShare">CPU time of the archiving backend over the archival's wall time (1.0: one core busy throughout); NaN for a remote server.</param>
public sealed record ArchivalServerStats(long WalBytes, long WalFullPageImages, long Checkpoints, long ActiveAutovacuums, long ArchivedAutovacuums, long DeadTuplesLeft,
    double ArchiverCpuShare);

/// <summary>What bench_archival_verify() found after a variant.</summary>
public sealed record ArchivalVerification(long Expected, long Archived, long DistinctArchived, long Missing, long Unexpected, long Changed, long LeftInActive, long ActiveRows, long ExpectedActiveRows, bool MovesRows = true)
{
    /// <summary>
    /// Every row that had to move is in todos_archived once with all 13 columns unchanged, nothing else moved, nothing
    /// stayed behind; for the CPU control, nothing moved at all.
    /// </summary>
    public bool Passed => MovesRows
        ? Archived == Expected && DistinctArchived == Expected && Missing == 0 && Unexpected == 0 && Changed == 0
          && LeftInActive == 0 && ActiveRows == ExpectedActiveRows
        : Archived == 0 && LeftInActive == Expected && ActiveRows == ExpectedActiveRows + Expected;

    public override string ToString() =>
        $"{Archived:N0} archived ({DistinctArchived:N0} distinct) of {Expected:N0} expected, {Missing} missing, {Unexpected} unexpected, " +
        $"{Changed} changed, {LeftInActive} left in todos_active, {ActiveRows:N0} active of {ExpectedActiveRows:N0}";
}

/// <summary>One variant on its own copy of the template: the archival's time and the probe's windows around it.</summary>
public sealed record ArchivalRun(
    int Round, ArchivalVariant Variant, bool ClosedLoop, double Seconds, ArchivalVerification Check,
    ProbeWindow Idle, ProbeWindow During, ProbeWindow After, ArchivalServerStats Server)
{
    public double RowsPerSecond => Seconds > 0 ? Check.Archived / Seconds : 0;
    public double P99Ratio => Idle.P99 > 0 ? During.P99 / Idle.P99 : double.NaN;

    public double P99RatioWithoutClientLag => Idle.P99WithoutClientLag > 0 ? During.P99WithoutClientLag / Idle.P99WithoutClientLag : double.NaN;
}

public sealed record ArchivalData(long Users, int HeavyUsers, long DoneRows, long OpenRows, long RecentRows, int ArchiveMonths,
    double ActiveMb, double DatabaseMb, double FillSeconds, bool Reused);

public sealed record ArchivalMachine(int Cores, string PostgresVersion, string SharedBuffers, string Fsync, string SynchronousCommit, string MaxWalSize);

/// <summary>The batch statement's plan as archival ran it, and whether it found its rows through the partial index.</summary>
/// <param name="PagesText">The plan of one backlog batch of the procedure (todoscale_archive_pages): a TID range scan of its own pages.</param>
public sealed record ArchivalPlan(string? Text, int BatchPlans, int BatchPlansUsingIndex, int BatchPlansWithPartitionScan, string? Unavailable,
    string? PagesText = null)
{
    public bool FindsRowsThroughIndex => BatchPlans > 0 && BatchPlansUsingIndex == BatchPlans && BatchPlansWithPartitionScan == 0;

    /// <summary>The backlog batch reads only its page range (Tid Range Scan), not the whole partition.</summary>
    public bool PagesBatchReadsOnlyItsPages => PagesText is not null && PagesText.Contains("Tid Range Scan", StringComparison.Ordinal)
                                               && !Regex.IsMatch(PagesText, @"Seq Scan on todos_active_part_");
}

public sealed record ArchivalBenchResult(
    ArchivalBenchOptions Options, DateTime StartedUtc, TimeSpan Total, ArchivalMachine Machine, ArchivalData Data,
    ArchivalPlan Plan, IReadOnlyList<ArchivalRun> Runs)
{
}

/// <summary>
/// Archival of done todos measured against the single statement, with the application's list query measured while it
/// runs: a template database with the real schema (SchemaMigrator: 001, 002, 003, 005, 006) filled by
/// Sql/archival_bench.sql and vacuumed, then every variant on its own CREATE DATABASE … TEMPLATE copy, round after
/// round, with an open-loop probe running from before the archival starts until after it ends.
/// </summary>
public sealed class ArchivalBench(string serverConnectionString, ArchivalBenchOptions options, Action<string> log)
{
    public const string BeginMarker = "<!-- bench-archival:begin (generated by `todoscale bench archival`) -->";
    public const string EndMarker = "<!-- bench-archival:end -->";

    // The list query's index (EXPLAIN of the generic plan: Index Scan using idx_todos_active_user_priority_created_pN).
    private const string ProbeIndexPattern = "idx_todos_active_user_priority_created%";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public async Task<ArchivalBenchResult> RunAsync(CancellationToken ct)
    {
        options.Validate();
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var template = options.DatabaseName + "_tpl";
        var machine = await MachineAsync(ct);
        var (data, plan) = await PrepareTemplateAsync(template, ct);
        var users = await ProbeUsersAsync(Database(template), ct);
        // CREATE DATABASE … TEMPLATE fails while any session is connected to the template, pooled ones included.
        NpgsqlConnection.ClearAllPools();

        var variants = options.Variants.Select(k => ArchivalVariants.Get(k, options.BatchSize, options.Throttle)).ToList();
        var runs = new List<ArchivalRun>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            // Each round starts with another variant, so a machine that gets busier during the run does not always
            // charge the same variant.
            var order = variants.Skip((round - 1) % variants.Count).Concat(variants.Take((round - 1) % variants.Count));
            foreach (var variant in order)
            {
                foreach (var closed in options.ClosedLoop ? new[] { false, true } : [false])
                {
                    // The control burns a core as long as the last single statement took, so both keep the machine equally busy.
                    var controlSeconds = runs.LastOrDefault(x => x.Variant.Key == ArchivalVariants.Single)?.Seconds ?? 10;
                    var run = await RunVariantAsync(template, variant, round, closed, users, controlSeconds, ct);
                    runs.Add(run);
                    log($"round {round} {variant.Key}{(closed ? " (closed loop, 1 client)" : "")}: {run.Seconds:F1} s, {run.RowsPerSecond:N0} rows/s; " +
                        $"p99 idle {run.Idle.P99:F2} ms, during {run.During.P99:F2} ms ({run.P99Ratio:F2}x), after {run.After.P99:F2} ms; " +
                        $"without client lag {run.Idle.P99WithoutClientLag:F2} -> {run.During.P99WithoutClientLag:F2} ms; " +
                        $"probe backend CPU {run.Idle.ProbeCpuMsPerQuery:F3} -> {run.During.ProbeCpuMsPerQuery:F3} ms/query, run-queue wait {run.Idle.ProbeRunQueueMsPerQuery:F3} -> {run.During.ProbeRunQueueMsPerQuery:F3}; archiver CPU {run.Server.ArchiverCpuShare:P0}; " +
                        $"machine CPU busy {run.Idle.CpuBusy:P0} idle, {run.During.CpuBusy:P0} during; " +
                        (run.Check.Passed ? "every row moved once" : "CHECK FAILED: " + run.Check));
                }
            }
        }

        return new ArchivalBenchResult(options, started, clock.Elapsed, machine, data, plan, runs);
    }

    private string Database(string name) =>
        new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name, CommandTimeout = 0 }.ConnectionString;

    private async Task<(ArchivalData, ArchivalPlan)> PrepareTemplateAsync(string template, CancellationToken ct)
    {
        var cs = Database(template);
        if (options.Reuse && await ReusableAsync(cs, ct) is { } reused)
        {
            log($"reusing {template} ({reused.Data.DoneRows:N0} done, {reused.Data.OpenRows:N0} open todos)");
            return reused;
        }

        var clock = Stopwatch.StartNew();
        await DropAsync(template, ct);
        await CreateAsync(template, "template0", ct);
        log($"schema (001, 002, 003, 005, 006) in {template}");
        await new SchemaMigrator(cs).MigrateAsync(ct: ct);

        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(ct);
        await ExecAsync(conn, BenchRunner.EmbeddedSql("archival_bench.sql"), ct);
        log($"filling: {options.Users:N0} users, {options.DoneRows:N0} done todos completed 40-70 days ago, {options.OpenRows:N0} open, {options.RecentRows:N0} done 1-29 days ago");
        int heavy, months;
        await using (var fill = new NpgsqlCommand("SELECT heavy_users, archive_months FROM bench_archival_fill($1, $2, $3, $4, $5, $6)", conn) { CommandTimeout = 0 })
        {
            AddDataParameters(fill);
            await using var reader = await fill.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            heavy = reader.GetInt32(0);
            months = reader.GetInt32(1);
        }

        log("VACUUM ANALYZE");
        await ExecAsync(conn, "VACUUM ANALYZE", ct);
        var plan = await CaptureBatchPlanAsync(conn, ct);
        // The plan came from a rolled-back archival: vacuum its dead archive rows away so every copy starts clean.
        await ExecAsync(conn, "VACUUM ANALYZE", ct);
        await using (var save = new NpgsqlCommand("UPDATE bench_archival_data SET batch_plan = $1, pages_plan = $2", conn))
        {
            save.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)plan.Text ?? DBNull.Value });
            save.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)plan.PagesText ?? DBNull.Value });
            await save.ExecuteNonQueryAsync(ct);
        }

        var data = await DataAsync(conn, heavy, months, clock.Elapsed.TotalSeconds, false, ct);
        log($"template ready in {clock.Elapsed.TotalSeconds:F0} s: todos_active {data.ActiveMb:N0} MB, database {data.DatabaseMb:N0} MB");
        return (data, plan);
    }

    private async Task<(ArchivalData Data, ArchivalPlan Plan)?> ReusableAsync(string cs, CancellationToken ct)
    {
        await using var server = new NpgsqlConnection(serverConnectionString);
        await server.OpenAsync(ct);
        await using (var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", server))
        {
            exists.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = new NpgsqlConnectionStringBuilder(cs).Database });
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
            {
                return null;
            }
        }

        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT d.batch_plan, (SELECT count(*)::int FROM pg_class WHERE relname ~ '^todos_archived_\d{4}_\d{2}$'), d.pages_plan
            FROM bench_archival_data d
            WHERE to_regclass('bench_archival_data') IS NOT NULL
              AND d.users = $1 AND d.done_rows = $2 AND d.open_rows = $3 AND d.recent_rows = $4 AND d.heavy_share = $5 AND d.seed = $6
              AND d.filled_at > now() - interval '7 days'
            """, conn);
        AddDataParameters(cmd);
        string? planText, pagesText;
        int months;
        try
        {
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            planText = reader.IsDBNull(0) ? null : reader.GetString(0);
            months = reader.GetInt32(1);
            pagesText = reader.IsDBNull(2) ? null : reader.GetString(2);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }

        var data = await DataAsync(conn, Math.Max(1, options.Users / 100), months, 0, true, ct);
        // The stored plans are condensed already; a reused template was checked when it was built.
        return (data, AnalysePlans(planText is null ? [] : [planText], planText is null ? "not captured" : null) with { PagesText = pagesText });
    }

    // $1..$6 of bench_archival_fill() and of the reuse check: the options that make two templates the same data.
    private void AddDataParameters(NpgsqlCommand cmd)
    {
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = options.Users });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = options.DoneRows });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = options.OpenRows });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = options.RecentRows });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = options.HeavyShare });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = options.Seed });
    }

    private async Task<ArchivalData> DataAsync(NpgsqlConnection conn, int heavy, int months, double seconds, bool reused, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM users),
                   (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'todos_active'::regclass),
                   pg_database_size(current_database())
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ArchivalData(reader.GetInt64(0), heavy, options.DoneRows, options.OpenRows, options.RecentRows, months,
            reader.GetInt64(1) / 1048576.0, reader.GetInt64(2) / 1048576.0, seconds, reused);
    }

    // EXPLAIN ANALYZE of the first batches of the archival the variants run (30 days, the run's batch size), from
    // inside the function (auto_explain, nested statements, sent back as NOTICEs), in a transaction that is rolled
    // back. Eight batches: the sixth and later run the statement's generic plan, which most batches of a run use.
    private async Task<ArchivalPlan> CaptureBatchPlanAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var plans = new List<string>();
        void OnNotice(object? _, NpgsqlNoticeEventArgs e)
        {
            if (e.Notice.MessageText.Contains("CTE picked", StringComparison.Ordinal))
            {
                plans.Add(e.Notice.MessageText);
            }
        }

        conn.Notice += OnNotice;
        try
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            try
            {
                await ExecAsync(conn, "LOAD 'auto_explain'", ct);
            }
            catch (PostgresException e)
            {
                return new ArchivalPlan(null, 0, 0, 0, $"not captured: LOAD 'auto_explain' failed ({e.SqlState}: {e.MessageText})");
            }

            // log_min_duration skips the per-row foreign-key checks (microseconds each) and keeps the batch statements.
            await ExecAsync(conn, """
                SET LOCAL auto_explain.log_min_duration = '1ms';
                SET LOCAL auto_explain.log_nested_statements = on;
                SET LOCAL auto_explain.log_analyze = on;
                SET LOCAL auto_explain.log_buffers = on;
                SET LOCAL auto_explain.log_timing = off;
                SET LOCAL auto_explain.log_level = notice;
                SET LOCAL client_min_messages = notice;
                """, ct);
            await using (var archive = new NpgsqlCommand("SELECT bench_archival_explain_batches($1, $2, 8)", conn) { CommandTimeout = 0 })
            {
                archive.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = ArchivalVariants.Days });
                archive.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = options.BatchSize });
                await archive.ExecuteNonQueryAsync(ct);
            }

            var indexPlans = plans.ToList();
            plans.Clear();
            await using (var pages = new NpgsqlCommand("SELECT bench_archival_explain_pages($1, $2)", conn) { CommandTimeout = 0 })
            {
                pages.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = ArchivalVariants.Days });
                pages.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = options.BatchSize });
                await pages.ExecuteNonQueryAsync(ct);
            }

            await tx.RollbackAsync(ct);
            return AnalysePlans(indexPlans, indexPlans.Count == 0 ? "not captured: no batch took 1 ms or more" : null) with
            {
                PagesText = plans.Count > 0 ? Condense(StripHeader(plans[^1])) : null,
            };
        }
        finally
        {
            conn.Notice -= OnNotice;
        }
    }

    internal static ArchivalPlan AnalysePlans(IReadOnlyList<string> plans, string? unavailable)
    {
        int usingIndex = 0, scanning = 0;
        foreach (var plan in plans)
        {
            var picked = PickedPart(plan);
            if (Regex.IsMatch(picked, @"Index (Only )?Scan using idx_todos_active_done_completed"))
            {
                usingIndex++;
            }

            if (Regex.IsMatch(picked, @"(Seq Scan|Bitmap Heap Scan) on todos_active_part_"))
            {
                scanning++;
            }
        }

        return new ArchivalPlan(plans.Count > 0 ? Condense(StripHeader(plans[^1])) : null, plans.Count, usingIndex, scanning, unavailable);
    }

    // The part of the plan that finds the batch's rows: from "CTE picked" to the next CTE.
    private static string PickedPart(string plan)
    {
        var start = plan.IndexOf("CTE picked", StringComparison.Ordinal);
        if (start < 0)
        {
            return "";
        }

        var end = plan.IndexOf("CTE removed", start, StringComparison.Ordinal);
        return end < 0 ? plan[start..] : plan[start..end];
    }

    // auto_explain's message starts with the duration and the statement's text; the report shows the plan only.
    private static string StripHeader(string message)
    {
        var lines = message.Split('\n');
        var first = Array.FindIndex(lines, l => !l.StartsWith(' ') && !l.StartsWith("duration:", StringComparison.Ordinal)
                                                 && !l.StartsWith("Query Text:", StringComparison.Ordinal) && l.Length > 0
                                                 && char.IsUpper(l[0]) && !l.StartsWith("WITH", StringComparison.Ordinal));
        return string.Join('\n', first < 0 ? lines : lines[first..]);
    }

    // Sixteen partitions repeat the same scan; keep the first and count the others, so the plan fits on a page.
    internal static string Condense(string plan)
    {
        var lines = plan.Split('\n');
        var output = new List<string>();
        var partitionNode = new Regex(@"^(\s*)->\s+(Index Scan|Index Only Scan|Seq Scan|Bitmap Heap Scan|Tid Scan|Tid Range Scan)( using (\S+))? on todos_active_part_\d+");
        var deleteTarget = new Regex(@"^(\s*)Delete on todos_active_part_\d+ t_\d+\s*$");
        for (var i = 0; i < lines.Length; i++)
        {
            if (deleteTarget.Match(lines[i]) is { Success: true } target)
            {
                var last = i;
                while (last + 1 < lines.Length && deleteTarget.IsMatch(lines[last + 1]))
                {
                    last++;
                }

                output.Add(lines[i]);
                if (last > i)
                {
                    output.Add($"{target.Groups[1].Value}… and on {last - i} more partitions");
                }

                i = last;
                continue;
            }

            var m = partitionNode.Match(lines[i]);
            if (!m.Success)
            {
                output.Add(lines[i]);
                continue;
            }

            var indent = m.Groups[1].Value.Length;
            var index = m.Groups[4].Success ? Regex.Replace(m.Groups[4].Value, @"(_part_|_p)\d+", "$1N") : null;
            var kind = m.Groups[2].Value + index;
            var end = BlockEnd(lines, i, indent);
            output.AddRange(lines[i..end]);
            var repeats = 0;
            while (end < lines.Length && partitionNode.Match(lines[end]) is { Success: true } next && next.Groups[1].Value.Length == indent
                   && next.Groups[2].Value + (next.Groups[4].Success ? Regex.Replace(next.Groups[4].Value, @"(_part_|_p)\d+", "$1N") : null) == kind)
            {
                repeats++;
                end = BlockEnd(lines, end, indent);
            }

            if (repeats > 0)
            {
                output.Add($"{new string(' ', indent)}->  … the same {m.Groups[2].Value}{(index is null ? "" : " using " + index)} on {repeats} more partitions");
            }

            i = end - 1;
        }

        return string.Join('\n', output).TrimEnd();
    }

    private static int BlockEnd(string[] lines, int start, int indent)
    {
        var end = start + 1;
        while (end < lines.Length && (lines[end].Length - lines[end].TrimStart().Length > indent + 2
                                      || (lines[end].Length - lines[end].TrimStart().Length > indent && !lines[end].TrimStart().StartsWith("->", StringComparison.Ordinal))))
        {
            end++;
        }

        return end;
    }

    private static async Task<IReadOnlyList<Guid>> ProbeUsersAsync(string cs, CancellationToken ct)
    {
        var users = new List<Guid>();
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT user_id FROM bench_archival_probe_users ORDER BY n", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            users.Add(reader.GetGuid(0));
        }

        return users.Count > 0 ? users : throw new InvalidOperationException("bench_archival_probe_users is empty");
    }

    private async Task<ArchivalRun> RunVariantAsync(string template, ArchivalVariant variant, int round, bool closedLoop,
        IReadOnlyList<Guid> users, double controlSeconds, CancellationToken ct)
    {
        var db = $"{options.DatabaseName}_{variant.Key}";
        await DropAsync(db, ct);
        await CreateAsync(db, template, ct);
        var cs = Database(db);
        try
        {
            await using var monitor = new NpgsqlConnection(cs);
            await monitor.OpenAsync(ct);
            await using var archiver = new NpgsqlConnection(cs);
            await archiver.OpenAsync(ct);
            await using var archive = new NpgsqlCommand(variant.Statement, archiver) { CommandTimeout = 0 };
            ArchivalVariants.Bind(archive, variant, options.BatchSize, options.Throttle, controlSeconds);

            await using var probe = await ArchivalProbe.StartAsync(ProbeConnectionString(cs), users,
                closedLoop ? 0 : options.ProbeRate, closedLoop ? 1 : options.ProbeConnections, round * 7919, ct);
            int[] probePids = [.. probe.BackendPids];
            int[] archiverPid = [archiver.ProcessID];
            await Task.Delay(options.ProbeWarmup, ct);
            var idle = await SnapshotAsync(monitor, probePids, archiverPid, ct);
            await Task.Delay(options.Idle, ct);

            var before = await SnapshotAsync(monitor, probePids, archiverPid, ct);
            var server0 = await ServerCountersAsync(monitor, ct);
            await archive.ExecuteNonQueryAsync(ct);
            var done = await SnapshotAsync(monitor, probePids, archiverPid, ct);
            var server1 = await ServerCountersAsync(monitor, ct);

            await Task.Delay(options.After, ct);
            var after = await SnapshotAsync(monitor, probePids, archiverPid, ct);
            var samples = await probe.StopAsync();

            var check = await VerifyAsync(monitor, variant.MovesRows, ct);
            var seconds = Stopwatch.GetElapsedTime(before.At, done.At).TotalSeconds;
            return new ArchivalRun(round, variant, closedLoop, seconds, check,
                Window(samples, idle, before), Window(samples, before, done), Window(samples, done, after),
                new ArchivalServerStats(server1.WalBytes - server0.WalBytes, server1.Fpi - server0.Fpi, server1.Checkpoints - server0.Checkpoints,
                    server1.ActiveAutovacuums - server0.ActiveAutovacuums, server1.ArchivedAutovacuums - server0.ArchivedAutovacuums, server1.DeadTuples,
                    done.ArchiverCpuTicks is { } b && before.ArchiverCpuTicks is { } a && seconds > 0 ? (b - a) / (double)ClockTicksPerSecond / seconds : double.NaN));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DropAsync(db, CancellationToken.None);
        }
    }

    /// <summary>What is counted at a window's edge: the time, the machine's CPU, the CPU of the probe's and the archiver's backends, the list index's reads.</summary>
    private sealed record Snapshot(long At, (long Busy, long Total)? Machine, long? ProbeCpuTicks, long? ProbeRunQueueNs, long? ArchiverCpuTicks,
        long IndexEntriesRead, long IndexBlocksRead);

    private static async Task<Snapshot> SnapshotAsync(NpgsqlConnection monitor, int[] probePids, int[] archiverPid, CancellationToken ct)
    {
        var at = Stopwatch.GetTimestamp();
        var machine = MachineCpu();
        var probeCpu = BackendCpuTicks(probePids);
        var probeWait = BackendRunQueueNs(probePids);
        var archiverCpu = BackendCpuTicks(archiverPid);
        // Only the list query reads this index (archival finds rows by completed_at, ctid and primary key), so its
        // counters are the probe's: entries read, and blocks that were not in shared_buffers.
        await using var cmd = new NpgsqlCommand("""
            SELECT coalesce(sum(s.idx_tup_read), 0)::bigint, coalesce(sum(io.idx_blks_read), 0)::bigint
            FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid)
            WHERE s.indexrelname LIKE $1
            """, monitor);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = ProbeIndexPattern });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new Snapshot(at, machine, probeCpu, probeWait, archiverCpu, reader.GetInt64(0), reader.GetInt64(1));
    }

    private static ProbeWindow Window(IReadOnlyList<ProbeSample> samples, Snapshot from, Snapshot to)
    {
        var w = ArchivalProbe.Window(samples, from.At, to.At, to.IndexEntriesRead - from.IndexEntriesRead);
        return w with
        {
            CpuBusy = from.Machine is { } a && to.Machine is { } b && b.Total > a.Total ? (double)(b.Busy - a.Busy) / (b.Total - a.Total) : double.NaN,
            ProbeCpuMsPerQuery = from.ProbeCpuTicks is { } p0 && to.ProbeCpuTicks is { } p1 && w.Count > 0
                ? (p1 - p0) * 1000.0 / ClockTicksPerSecond / w.Count
                : double.NaN,
            IndexBlocksReadPerQuery = w.Count > 0 ? (double)(to.IndexBlocksRead - from.IndexBlocksRead) / w.Count : double.NaN,
            ProbeRunQueueMsPerQuery = from.ProbeRunQueueNs is { } q0 && to.ProbeRunQueueNs is { } q1 && w.Count > 0
                ? (q1 - q0) / 1e6 / w.Count
                : double.NaN,
        };
    }

    // Time the backends were ready to run but waited for a CPU (second field of /proc/<pid>/schedstat, in ns): the
    // CPU contention a query suffers, which its latency includes but its CPU time does not.
    private static long? BackendRunQueueNs(int[] pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            try
            {
                total += long.Parse(File.ReadAllText($"/proc/{pid}/schedstat").Split(' ')[1], Inv);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                return null;
            }
        }

        return total;
    }

    // /proc/<pid>/stat counts CPU time in clock ticks of sysconf(_SC_CLK_TCK), 100 per second on Linux.
    private const int ClockTicksPerSecond = 100;

    // The machine's busy and total CPU time so far (first line of /proc/stat: user nice system idle iowait irq softirq steal).
    private static (long Busy, long Total)? MachineCpu()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, Inv)).ToArray();
            var total = fields.Sum();
            return (total - fields[3] - fields[4], total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    // User plus system CPU time of server backends, when the server runs on this machine (null otherwise: a remote
    // server's pids mean nothing here). Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the
    // command name, which may itself contain spaces.
    private static long? BackendCpuTicks(int[] pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (!fields[0].All(char.IsLetter) || !File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("postgres", StringComparison.Ordinal))
                {
                    return null;
                }

                total += long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                return null;
            }
        }

        return total;
    }

    // As the API's data source: plan_cache_mode=force_generic_plan on every connection.
    private static string ProbeConnectionString(string cs) =>
        AppConnection.WithGenericPlans(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = "todoscale-bench-archival-probe" }.ConnectionString);

    private static async Task<(long WalBytes, long Fpi, long Checkpoints, long ActiveAutovacuums, long ArchivedAutovacuums, long DeadTuples)> ServerCountersAsync(
        NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
                   (SELECT wal_fpi FROM pg_stat_wal),
                   (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
                   (SELECT coalesce(sum(autovacuum_count), 0)::bigint FROM pg_stat_user_tables WHERE relname LIKE 'todos\_active\_part\_%'),
                   (SELECT coalesce(sum(autovacuum_count), 0)::bigint FROM pg_stat_user_tables WHERE relname LIKE 'todos\_archived\_%'),
                   (SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables WHERE relname LIKE 'todos\_active\_part\_%')
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
    }

    private async Task<ArchivalVerification> VerifyAsync(NpgsqlConnection conn, bool movesRows, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT expected, archived, distinct_archived, missing, unexpected, changed, left_in_active, active_rows FROM bench_archival_verify()", conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ArchivalVerification(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
            reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), options.OpenRows + options.RecentRows, movesRows);
    }

    private async Task<ArchivalMachine> MachineAsync(CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(serverConnectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT version(), current_setting('shared_buffers'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_wal_size')", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ArchivalMachine(Environment.ProcessorCount, reader.GetString(0).Split(" on ")[0], reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));
    }

    // Identifiers are quoted by PostgreSQL (format %I), not built here; STRATEGY FILE_COPY copies the files instead
    // of writing the whole database through WAL and shared buffers, and its checkpoint gives every copy the same start.
    private async Task CreateAsync(string name, string template, CancellationToken ct) =>
        await AdminDdlAsync("SELECT format('CREATE DATABASE %I TEMPLATE %I STRATEGY FILE_COPY', $1::text, $2::text)", [name, template], ct);

    private async Task DropAsync(string name, CancellationToken ct) =>
        await AdminDdlAsync("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)", [name], ct);

    private async Task AdminDdlAsync(string formatSql, string[] names, CancellationToken ct)
    {
        await using var server = new NpgsqlConnection(serverConnectionString);
        await server.OpenAsync(ct);
        string statement;
        await using (var format = new NpgsqlCommand(formatSql, server))
        {
            foreach (var n in names)
            {
                format.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = n });
            }

            statement = (string)(await format.ExecuteScalarAsync(ct))!;
        }

        await using var ddl = new NpgsqlCommand(statement, server) { CommandTimeout = 0 };
        await ddl.ExecuteNonQueryAsync(ct);
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static double Median(IEnumerable<double> values) => LatencyStats.Median(values);

    /// <summary>A variant's medians over the rounds; rate ratios are taken per round against that round's single statement.</summary>
    public sealed record Summary(ArchivalVariant Variant, int Rounds, double Seconds, double RowsPerSecond, double RateRatio,
        double IdleP99, double DuringP99, double P99Ratio, double AfterP99, bool AllPassed, double MinRateRatio, double MaxP99Ratio,
        double P99RatioWithoutClientLag)
    {
        public bool MeetsTarget => RateRatio >= 0.5 && P99Ratio < 2.0;
    }

    public static IReadOnlyList<Summary> Summaries(ArchivalBenchResult r, bool closedLoop = false)
    {
        var list = new List<Summary>();
        foreach (var key in r.Options.Variants)
        {
            var runs = r.Runs.Where(x => x.Variant.Key == key && x.ClosedLoop == closedLoop).ToList();
            if (runs.Count == 0)
            {
                continue;
            }

            var ratios = runs.Select(x => r.Runs.FirstOrDefault(s => s.Variant.Key == ArchivalVariants.Single && s.Round == x.Round && s.ClosedLoop == closedLoop) is { } single
                ? single.Seconds / x.Seconds : double.NaN).ToList();
            list.Add(new Summary(runs[0].Variant, runs.Count, Median(runs.Select(x => x.Seconds)), Median(runs.Select(x => x.RowsPerSecond)),
                Median(ratios), Median(runs.Select(x => x.Idle.P99)), Median(runs.Select(x => x.During.P99)), Median(runs.Select(x => x.P99Ratio)),
                Median(runs.Select(x => x.After.P99)), runs.All(x => x.Check.Passed),
                ratios.Where(x => !double.IsNaN(x)).DefaultIfEmpty(double.NaN).Min(), runs.Max(x => x.P99Ratio),
                Median(runs.Select(x => x.P99RatioWithoutClientLag))));
        }

        return list;
    }

    public static string Markdown(ArchivalBenchResult r)
    {
        var o = r.Options;
        var d = r.Data;
        var sb = new StringBuilder();
        sb.AppendLine("## Archival: batched forms against the single statement, and the list query while they run");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Run of {r.StartedUtc:yyyy-MM-dd HH:mm} UTC, {r.Total.TotalMinutes:F1} minutes in all. Repeat it with:");
        sb.AppendLine();
        sb.AppendLine("```bash");
        sb.AppendLine(o.CommandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(Inv, $"**Machine**: {r.Machine.Cores} cores; the benchmark client runs on the same machine. **PostgreSQL**: {r.Machine.PostgresVersion}, " +
                           $"shared_buffers {r.Machine.SharedBuffers}, fsync {r.Machine.Fsync}, synchronous_commit {r.Machine.SynchronousCommit}, max_wal_size {r.Machine.MaxWalSize}.");
        sb.AppendLine();
        sb.AppendLine(Inv, $"**Data** (template database, {(d.Reused ? "reused from an earlier run" : $"built in {d.FillSeconds:F0} s")}): the real schema through the migrator " +
                           $"(001, 002, 003, 005, 006), filled by `Sql/archival_bench.sql`: {d.Users:N0} users (the heaviest {d.HeavyUsers:N0} own {o.HeavyShare:P0} of the todos), " +
                           $"**{d.DoneRows:N0} done todos completed 40–70 days ago** (what archival moves, into {d.ArchiveMonths} existing archive months), " +
                           $"{d.OpenRows:N0} open todos and {d.RecentRows:N0} done 1–29 days ago (both stay), inserted in created_at order as an application writes them; " +
                           $"then `VACUUM ANALYZE`. `todos_active` {d.ActiveMb:N0} MB with its indexes, the database {d.DatabaseMb:N0} MB. " +
                           $"Every variant runs on its own `CREATE DATABASE … TEMPLATE` copy, {o.Rounds} round(s), each round starting with the next variant; " +
                           $"figures are **medians over the rounds** and the rate ratio is taken within each round.");
        sb.AppendLine();
        sb.AppendLine(Inv, $"**Probe**: the application's list statement (`TodoQueries.ListActivePage`, first page, limit {TodoListQuery.DefaultLimit + 1}, bound as `TodoService` binds it), " +
                           $"prepared, on connections with `plan_cache_mode=force_generic_plan` as the API's data source sets; **open loop at {o.ProbeRate:N0} requests/s** " +
                           $"over {o.ProbeConnections} connections, users drawn in proportion to their todos. Latency is measured from each request's scheduled start, " +
                           $"so time spent waiting for a free connection counts. *idle*: the {o.Idle.TotalSeconds:N0} s before archival on the same copy (after {o.ProbeWarmup.TotalSeconds:N0} s of warm-up); " +
                           $"*during*: while the archival statement runs; *after*: the {o.After.TotalSeconds:N0} s after it ends, before any VACUUM.");
        sb.AppendLine();

        var summaries = Summaries(r);
        sb.AppendLine(Inv, $"| archival of {d.DoneRows:N0} done todos | seconds | rows/s | vs single statement | list p99 idle ms | during | after | p99 during / idle | target met | without client lag | every row moved once |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|");
        foreach (var s in summaries)
        {
            var isSingle = s.Variant.Key == ArchivalVariants.Single;
            var control = !s.Variant.MovesRows;
            var rate = control ? "—" : s.RowsPerSecond.ToString("N0", Inv);
            var ratio = control ? "—" : isSingle ? "1.00" : string.Create(Inv, $"**{s.RateRatio:F2}**");
            var target = control ? "(control)" : isSingle ? "(the limit)" : s.MeetsTarget ? "yes" : "no";
            var moved = control ? (s.AllPassed ? "nothing moved" : "**rows moved**") : s.AllPassed ? "yes" : "**NO**";
            sb.AppendLine(Inv, $"| {s.Variant.Label} | {s.Seconds:F1} | {rate} | {ratio} | {s.IdleP99:F2} | {s.DuringP99:F2} | {s.AfterP99:F2} | **{s.P99Ratio:F2}** | {target} | {s.P99RatioWithoutClientLag:F2} | {moved} |");
        }

        sb.AppendLine();
        sb.AppendLine("Target (the issue): archival at ≥ 0.50 of the single statement's rate **and** list p99 during archival < 2× idle. " +
                      "*without client lag*: the same p99 ratio with the time the probe's own client lost before sending removed (waking late, " +
                      "waiting for a core: the client shares the machine's cores with the server here, a client on another machine would not lose it). " +
                      "The *control* keeps one backend busy on one core as long as the single statement took, touching no table: what the list query loses " +
                      "to the CPU share alone, without any archival.");
        sb.AppendLine();

        sb.AppendLine("Per round: the list query's latency (ms, from the scheduled start), the archival's rate, and what the server did meanwhile " +
                      "(WAL and checkpoints are cluster-wide; autovacuum runs are this copy's, counted while archival ran):");
        sb.AppendLine();
        sb.AppendLine("| round | variant | window | requests | p50 | p95 | p99 | max | p99 without client lag | client lag p99 | index entries read per query | index blocks read from the OS per query | backend CPU ms per query | backend run-queue wait ms per query | machine CPU busy |");
        sb.AppendLine("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var run in r.Runs.Where(x => !x.ClosedLoop).OrderBy(x => x.Round).ThenBy(x => o.Variants.ToList().IndexOf(x.Variant.Key)))
        {
            foreach (var (name, w) in new[] { ("idle", run.Idle), ("during", run.During), ("after", run.After) })
            {
                sb.AppendLine(Inv, $"| {run.Round} | {run.Variant.Key} | {name} | {w.Count:N0} | {w.P50:F2} | {w.P95:F2} | {w.P99:F2} | {w.Max:F1} | {w.P99WithoutClientLag:F2} | {w.ClientLagP99:F2} | {w.EntriesPerQuery:F0} | {w.IndexBlocksReadPerQuery:F2} | {w.ProbeCpuMsPerQuery:F3} | {w.ProbeRunQueueMsPerQuery:F3} | {w.CpuBusy:P0} |");
            }
        }

        sb.AppendLine();
        sb.AppendLine("| round | variant | seconds | rows/s | archiver CPU busy | WAL MB | full-page images | checkpoints | autovacuum runs on todos_active / todos_archived partitions | dead tuples left in todos_active | check |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|");
        foreach (var run in r.Runs.OrderBy(x => x.Round).ThenBy(x => o.Variants.ToList().IndexOf(x.Variant.Key)).ThenBy(x => x.ClosedLoop))
        {
            var s = run.Server;
            sb.AppendLine(Inv, $"| {run.Round} | {run.Variant.Key}{(run.ClosedLoop ? " (closed-loop probe)" : "")} | {run.Seconds:F1} | {run.RowsPerSecond:N0} | {s.ArchiverCpuShare:P0} | {s.WalBytes / 1048576.0:N0} | {s.WalFullPageImages:N0} | " +
                               $"{s.Checkpoints} | {s.ActiveAutovacuums} / {s.ArchivedAutovacuums} | {s.DeadTuplesLeft:N0} | {(run.Check.Passed ? "PASS" : "FAIL: " + run.Check)} |");
        }

        if (o.ClosedLoop)
        {
            sb.AppendLine();
            sb.AppendLine("Closed loop, one client (the next request as soon as the previous answered, as the hand measurement's pgbench did; each variant on one more copy):");
            sb.AppendLine();
            sb.AppendLine("| variant | queries/s idle → during | p50 ms idle → during | p99 ms idle → during | p99 during / idle |");
            sb.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var key in o.Variants)
            {
                var runs = r.Runs.Where(x => x.ClosedLoop && x.Variant.Key == key).ToList();
                if (runs.Count == 0)
                {
                    continue;
                }

                sb.AppendLine(Inv, $"| {key} | {Median(runs.Select(x => x.Idle.PerSecond)):N0} → {Median(runs.Select(x => x.During.PerSecond)):N0} | " +
                                   $"{Median(runs.Select(x => x.Idle.P50)):F2} → {Median(runs.Select(x => x.During.P50)):F2} | " +
                                   $"{Median(runs.Select(x => x.Idle.P99)):F2} → {Median(runs.Select(x => x.During.P99)):F2} | {Median(runs.Select(x => x.P99Ratio)):F2} |");
            }
        }

        sb.AppendLine();
        var p = r.Plan;
        if (p.Text is null)
        {
            sb.AppendLine(Inv, $"**Batch plans**: {p.Unavailable}.");
        }
        else
        {
            var verdict = p.FindsRowsThroughIndex
                ? "every batch found its rows through the partial index `idx_todos_active_done_completed` (an index scan per partition, merged in completed_at order), none by scanning a partition."
                : string.Create(Inv, $"**{p.BatchPlansUsingIndex} of {p.BatchPlans} batches used the partial index, {p.BatchPlansWithPartitionScan} scanned a partition.**");
            sb.AppendLine(Inv, $"**Batch plans** (auto_explain on the template, in a transaction rolled back). Through the index (`todoscale_archive_batch`), as every form takes " +
                               $"the daily trickle (fewer than two eligible rows per heap page); run here for the first {p.BatchPlans} batches of a {ArchivalVariants.Days}-day archival in batches of {o.BatchSize:N0}, " +
                               $"the last one shown{(Regex.IsMatch(p.Text, @"\$\d") ? ", a generic plan" : "")}: {verdict}");
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(p.Text);
            sb.AppendLine("```");
        }

        if (p.PagesText is not null)
        {
            sb.AppendLine();
            sb.AppendLine("A backlog batch (`todoscale_archive_pages`, as (b), (c) and (d) take this run's backlog; the first pages of one partition): " +
                          (p.PagesBatchReadsOnlyItsPages
                              ? "a TID range scan of its own pages, each page of a partition read by one batch only; the rows are deleted by ctid."
                              : "**not a TID range scan of its own pages** (on a small table one batch's pages can cover a whole partition, which the planner then scans)."));
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(p.PagesText);
            sb.AppendLine("```");
        }

        return sb.ToString();
    }

    public static string Write(ArchivalBenchResult r, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "benchmarks.md");
        MarkdownSections.Write(path, BeginMarker, EndMarker, Markdown(r));
        return path;
    }
}

/// <summary>
/// One request of the probe (Stopwatch ticks): when it was due, when its connection became free to take it (after the
/// previous request's answer), when it was sent, when its answer was read.
/// </summary>
public readonly record struct ProbeSample(long Due, long Free, long Sent, long Done)
{
    /// <summary>
    /// Time the client itself lost between the moment it could have sent and the send: waking from its sleep late when
    /// it was idle at the due time, or getting back on a CPU after the previous answer. Not the server's doing, but the
    /// client shares the machine's cores with the server here, so during archival it waits for a CPU too.
    /// </summary>
    public long ClientLag => Sent - Math.Max(Due, Free);
}

/// <summary>
/// The user-facing load during archival: the application's list statement at a fixed request rate (open loop) over a
/// few connections. Each connection's thread takes the next slot of the schedule when it is free, sleeps until the
/// slot is due and runs it; when every connection is busy a due slot waits, and since latency counts from the slot's
/// due time, that queueing is measured. A closed loop (rate 0, one connection) measures how much CPU the query gets
/// instead: on 2 cores it competes with archival for the same core and doubles its latency without any interference.
/// </summary>
internal sealed class ArchivalProbe : IAsyncDisposable
{
    private readonly List<(NpgsqlConnection Conn, NpgsqlCommand Cmd)> _clients;
    private readonly IReadOnlyList<Guid> _users;
    private readonly long _start;
    private readonly double _intervalTicks;
    private readonly Thread[] _threads;
    private readonly List<ProbeSample>[] _samples;
    private long _next;
    private long _stopAt = long.MaxValue;
    private Exception? _failure;

    private ArchivalProbe(List<(NpgsqlConnection, NpgsqlCommand)> clients, IReadOnlyList<Guid> users, double rate, int seed)
    {
        _clients = clients;
        _users = users;
        _intervalTicks = rate > 0 ? Stopwatch.Frequency / rate : 0;
        _samples = clients.Select(_ => new List<ProbeSample>(16_384)).ToArray();
        _start = Stopwatch.GetTimestamp();
        _threads = clients.Select((_, i) => new Thread(() => Loop(i, seed + i)) { IsBackground = true, Name = $"archival-probe-{i}" }).ToArray();
        foreach (var t in _threads)
        {
            t.Start();
        }
    }

    public IEnumerable<int> BackendPids => _clients.Select(c => c.Conn.ProcessID);

    public static async Task<ArchivalProbe> StartAsync(string connectionString, IReadOnlyList<Guid> users, double rate, int connections, int seed, CancellationToken ct)
    {
        var clients = new List<(NpgsqlConnection, NpgsqlCommand)>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var conn = new NpgsqlConnection(connectionString);
                await conn.OpenAsync(ct);
                var cmd = new NpgsqlCommand(TodoQueries.ListActivePage, conn);
                // As TodoService.ListTodosAsync binds the first page of a list without filters: the user, then
                // status, project, due_before, due_after, the keyset cursor (none) and the limit (one more than a page).
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = users[0] });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = TodoListQuery.DefaultLimit + 1 });
                await cmd.PrepareAsync(ct);
                clients.Add((conn, cmd));
                // The first execution builds the generic plan: once per connection, not part of any window.
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                }
            }
        }
        catch
        {
            foreach (var (conn, cmd) in clients)
            {
                await cmd.DisposeAsync();
                await conn.DisposeAsync();
            }

            throw;
        }

        return new ArchivalProbe(clients, users, rate, seed);
    }

    private void Loop(int client, int seed)
    {
        var random = new Random(seed);
        var cmd = _clients[client].Cmd;
        var samples = _samples[client];
        try
        {
            while (true)
            {
                var free = Stopwatch.GetTimestamp();
                var slot = Interlocked.Increment(ref _next) - 1;
                var due = _intervalTicks > 0 ? _start + (long)(slot * _intervalTicks) : Stopwatch.GetTimestamp();
                if (due >= Volatile.Read(ref _stopAt) || Volatile.Read(ref _failure) is not null)
                {
                    return;
                }

                SleepUntil(due);
                cmd.Parameters[0].Value = _users[random.Next(_users.Count)];
                var sent = Stopwatch.GetTimestamp();
                using (var reader = cmd.ExecuteReader())
                {
                    while (reader.Read())
                    {
                    }
                }

                samples.Add(new ProbeSample(due, free, sent, Stopwatch.GetTimestamp()));
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
    }

    /// <summary>Stops scheduling, waits for the requests in flight and returns every request's timings.</summary>
    public async Task<IReadOnlyList<ProbeSample>> StopAsync()
    {
        Volatile.Write(ref _stopAt, Stopwatch.GetTimestamp());
        await Task.Run(() =>
        {
            foreach (var t in _threads)
            {
                t.Join();
            }
        });
        if (_failure is not null)
        {
            throw new InvalidOperationException($"the list query probe failed: {_failure.Message}", _failure);
        }

        return _samples.SelectMany(s => s).OrderBy(s => s.Due).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _stopAt, long.MinValue);
        foreach (var t in _threads)
        {
            await Task.Run(t.Join);
        }

        foreach (var (conn, cmd) in _clients)
        {
            await cmd.DisposeAsync();
            await conn.DisposeAsync();
        }
    }

    /// <summary>The requests due in [from, to): latency from the due time, service time from sending.</summary>
    public static ProbeWindow Window(IReadOnlyList<ProbeSample> samples, long from, long to, long indexEntriesRead)
    {
        var inWindow = samples.Where(s => s.Due >= from && s.Due < to).ToList();
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        if (inWindow.Count == 0)
        {
            return new ProbeWindow(0, seconds, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var latency = inWindow.Select(s => Ms(s.Done - s.Due)).Order().ToArray();
        var service = inWindow.Select(s => Ms(s.Done - s.Sent)).Order().ToArray();
        var withoutLag = inWindow.Select(s => Ms(s.Done - s.Due - s.ClientLag)).Order().ToArray();
        var lag = inWindow.Select(s => Ms(s.ClientLag)).Order().ToArray();
        double At(double[] v, double q) => v[Math.Min(v.Length - 1, Math.Max(0, (int)Math.Ceiling(q * v.Length) - 1))];
        return new ProbeWindow(latency.Length, seconds, At(latency, 0.50), At(latency, 0.95), At(latency, 0.99), latency[^1], At(service, 0.99),
            (double)indexEntriesRead / latency.Length, At(withoutLag, 0.99), At(lag, 0.99));
    }

    // Thread.Sleep and Task.Delay wake on whole milliseconds: up to 1 ms of made-up latency on a query of 0.5 ms, more
    // than the effect being measured, and it would shrink every ratio. nanosleep wakes within the kernel's timer slack
    // (~50 µs) without spinning a core that the archival and the server need.
    private static void SleepUntil(long due)
    {
        while (true)
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            var ns = (long)(remaining * (1_000_000_000.0 / Stopwatch.Frequency));
            if (OperatingSystem.IsLinux())
            {
                var ts = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
                _ = NanoSleep(ref ts, IntPtr.Zero);
            }
            else
            {
                Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, ns / 100)));
            }
        }
    }

    [StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "nanosleep", SetLastError = true)]
    private static extern int NanoSleep(ref Timespec request, IntPtr remaining);
}
