using System.Globalization;
using System.Text;
using TodoScale.Database.Migration;
using TodoScale.Simulation.LegacyWriters;

namespace TodoScale.Benchmarks;

/// <summary>One copy under the writers: the runner's result (with every engine step) and the writers' report meanwhile.</summary>
public sealed record MigrationLiveRun(string Name, MigrationRunResult Run, LegacyWriterReport Writers)
{
    public const string Fixed = "fixed (today's settings)";
    public const string Adaptive = "adaptive (batch engine)";
    public const string Held = "adaptive, a user held by the application";

    /// <summary>Validation after this run, when it was validated on its own (the held-rows run).</summary>
    public IReadOnlyList<ValidationCheck>? Checks { get; init; }

    public double RowsPerSecond => Run.RowsMovedThisRun / Run.Elapsed.TotalSeconds;

    /// <summary>The longest any session was seen waiting on a lock of the migration's session (<see cref="MigrationWaitSampler"/>).</summary>
    public double LongestWaitOnMigrationMs { get; init; }

    /// <summary>When the build of the deferred indexes and bookkeeping began (a Stopwatch timestamp): the run's last part.</summary>
    public long BuildStarted { get; init; } = long.MaxValue;

    /// <summary>The writers' statements that started while the batches copied (the start and preflight included).</summary>
    public LatencySummary WritersDuringCopy => Writers.Between(long.MinValue, BuildStarted);

    /// <summary>The writers' statements that started while the deferred indexes and bookkeeping were built.</summary>
    public LatencySummary WritersDuringBuild => Writers.Between(BuildStarted, long.MaxValue);

    /// <summary>The longest batch of the run, split ones included: the lock bound says no write waits longer on the copy.</summary>
    public double LongestBatchMs => Run.Samples.Where(s => s.Outcome is "batch" or "split").Select(s => s.ElapsedMs).DefaultIfEmpty(0).Max();

    /// <summary>Time the engine gave up to each signal: paused (no batch) or slowed (a pause after the batch), in seconds.</summary>
    public IReadOnlyList<(string Signal, string How, double Seconds)> SignalTime =>
        Run.Samples.Where(s => s.Signal is not null && s.PauseMs > 0)
            .GroupBy(s => (s.Signal!, s.Outcome == "paused" ? "paused" : "slowed"))
            .Select(g => (g.Key.Item1, g.Key.Item2, g.Sum(s => s.PauseMs) / 1000.0))
            .OrderByDescending(x => x.Item3).ToList();
}

/// <summary>One migration measurement: the single statement, the live runs under writers, the writers alone, validation.</summary>
public sealed record MigrationMeasurementResult(
    long LegacyRows, TimeSpan SingleStatement, TimeSpan Validation, LegacyWriterReport WritersAlone, LegacyWriterReport WritersWithTrigger,
    IReadOnlyList<MigrationLiveRun> Runs, IReadOnlyList<ValidationCheck> Checks)
{
    /// <summary>Building the secondary indexes after the single statement (the live runs build them after their backfill too).</summary>
    public TimeSpan SingleStatementIndexBuild { get; init; }

    /// <summary>The writers after the adaptive run's build, no copy: the mirror into every index of the new tables, as until cutover.</summary>
    public LegacyWriterReport? WritersUntilCutover { get; init; }

    /// <summary>The writers without any trigger in that same state: their own latency once the database holds both layouts.</summary>
    public LegacyWriterReport? WritersAfterBuildAlone { get; init; }

    /// <summary>The writers with a key-only change log in place of the mirror (bench only): the trigger's own cost, without applying the changes.</summary>
    public LegacyWriterReport? WritersWithChangeLog { get; init; }

    public double SingleStatementRowsPerSecond => LegacyRows / (SingleStatement + SingleStatementIndexBuild).TotalSeconds;

    public MigrationLiveRun? Run(string name) => Runs.FirstOrDefault(r => r.Name == name);

    /// <summary>Copy rate of a live run relative to the single statement (target ≥ 0.60).</summary>
    public double CopyRatio(MigrationLiveRun r) => r.RowsPerSecond / SingleStatementRowsPerSecond;

    /// <summary>Writers' p99 during a live run relative to their p99 alone (target ≤ 2).</summary>
    public double P99Ratio(MigrationLiveRun r) => r.Writers.Latency.P99Ms / WritersAlone.Latency.P99Ms;

    /// <summary>The copy's own share: writers' p99 during a live run relative to their p99 with the mirror trigger on and no copy.</summary>
    public double P99RatioToTrigger(MigrationLiveRun r) => r.Writers.Latency.P99Ms / WritersWithTrigger.Latency.P99Ms;

    public string ToMarkdown(MigrationMeasurementOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"| Copy of {LegacyRows:N0} legacy rows | time | rows/s | ÷ single statement | writers' p50 / p99 / max ms | p99 ÷ alone | batches | batch rows (median) | batch ms (median / p99) | splits | paused or slowed | errors |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        sb.AppendLine(inv, $"| one `INSERT … SELECT` of the whole table, then its secondary indexes, archive bookkeeping and statistics (offline, the physical limit) | {(SingleStatement + SingleStatementIndexBuild).TotalSeconds:N1} s ({SingleStatement.TotalSeconds:N1} + {SingleStatementIndexBuild.TotalSeconds:N1}) | {SingleStatementRowsPerSecond:N0} | 1.00 | writers alone: {WritersAlone.Latency.P50Ms:N2} / {WritersAlone.Latency.P99Ms:N1} / {WritersAlone.Latency.MaxMs:N0} | 1.00 | | | | | | {Errors(WritersAlone)} |");
        sb.AppendLine(inv, $"| no copy: the writers with the mirror trigger on ({o.WriterBaselineDuration.TotalSeconds:N0} s) | | | | {WritersWithTrigger.Latency.P50Ms:N2} / {WritersWithTrigger.Latency.P99Ms:N1} / {WritersWithTrigger.Latency.MaxMs:N0} | {WritersWithTrigger.Latency.P99Ms / WritersAlone.Latency.P99Ms:F2}× | | | | | | {Errors(WritersWithTrigger)} |");
        if (WritersUntilCutover is { } cut)
        {
            sb.AppendLine(inv, $"| no copy, after the adaptive run's build: the writers with the mirror trigger writing every index of the new tables (as until cutover; {o.WriterBaselineDuration.TotalSeconds:N0} s) | | | | {cut.Latency.P50Ms:N2} / {cut.Latency.P99Ms:N1} / {cut.Latency.MaxMs:N0} | {cut.Latency.P99Ms / WritersAlone.Latency.P99Ms:F2}× | | | | | | {Errors(cut)} |");
        }

        if (WritersAfterBuildAlone is { } none)
        {
            sb.AppendLine(inv, $"| no copy, same state: the writers without any trigger (their own latency once the database holds both layouts; {o.WriterBaselineDuration.TotalSeconds:N0} s) | | | | {none.Latency.P50Ms:N2} / {none.Latency.P99Ms:N1} / {none.Latency.MaxMs:N0} | {none.Latency.P99Ms / WritersAlone.Latency.P99Ms:F2}× | | | | | | {Errors(none)} |");
        }

        if (WritersWithChangeLog is { } log)
        {
            sb.AppendLine(inv, $"| no copy, same state: the writers with a key-only change log in place of the mirror (one narrow row per write, no index; the trigger alone, without applying the changes to the new tables; bench only; {o.WriterBaselineDuration.TotalSeconds:N0} s) | | | | {log.Latency.P50Ms:N2} / {log.Latency.P99Ms:N1} / {log.Latency.MaxMs:N0} | {log.Latency.P99Ms / WritersAlone.Latency.P99Ms:F2}× | | | | | | {Errors(log)} |");
        }

        foreach (var r in Runs)
        {
            var batches = r.Run.Samples.Where(s => s.Outcome == "batch").ToList();
            var sizes = batches.Select(b => (double)b.BatchRows).Order().ToList();
            var times = batches.Select(b => b.ElapsedMs).Order().ToList();
            var what = r.Name switch
            {
                MigrationLiveRun.Fixed => $"{r.Name}: `--batch-size {o.BatchSize}`, no pause, no signals",
                MigrationLiveRun.Held => $"{r.Name} for {o.HoldFor.TotalSeconds:N0} s: `migrate run`",
                _ => $"{r.Name}: `migrate run` (target {o.Target.TotalMilliseconds:N0} ms)",
            };
            sb.AppendLine(inv, $"| {what}, {o.WriterConnections} writers | {r.Run.Elapsed.TotalSeconds:N1} s | {r.RowsPerSecond:N0} | **{CopyRatio(r):F2}×** | " +
                               $"{r.Writers.Latency.P50Ms:N2} / {r.Writers.Latency.P99Ms:N1} / {r.Writers.Latency.MaxMs:N0} | **{P99Ratio(r):F2}×** | " +
                               $"{batches.Count:N0} | {Pct(sizes, 0.5):N0} | {Pct(times, 0.5):N0} / {Pct(times, 0.99):N0} | {r.Run.Splits} | {r.Run.Paused.TotalSeconds:N1} s | {Errors(r.Writers)} |");
        }

        sb.AppendLine();
        var heldChecks = Run(MigrationLiveRun.Held)?.Checks;
        sb.AppendLine(inv, $"validate_migration() after the adaptive run: {Checks.Count(c => c.Passed)}/{Checks.Count} PASS in {Validation.TotalSeconds:N1} s" +
                           $"{(heldChecks is null ? "." : $"; after the held-user run: {heldChecks.Count(c => c.Passed)}/{heldChecks.Count} PASS.")}");
        sb.AppendLine();
        foreach (var r in Runs)
        {
            var shorter = r.LongestWaitOnMigrationMs <= r.LongestBatchMs;
            var given = r.SignalTime is { Count: > 0 } times
                ? "time given up to signals: " + string.Join(", ", times.Select(x => string.Create(inv, $"{x.Signal} {x.Seconds:N1} s {x.How}")))
                : "no time given up to signals";
            sb.AppendLine(inv, $"- {r.Name}: the longest any session waited on the migration's locks was {r.LongestWaitOnMigrationMs:N0} ms " +
                               $"(`pg_locks.waitstart`, sampled every {MigrationWaitSampler.Interval.TotalMilliseconds:N0} ms, so up to that much short), " +
                               $"{(shorter ? "**not longer than**" : "**longer than**")} the run's longest batch ({r.LongestBatchMs:N0} ms, its statement; " +
                               $"the commit after it holds the locks a little longer); " +
                               $"the longest writer statement took {r.Writers.Latency.MaxMs:N0} ms" +
                               $"{(r.Name == MigrationLiveRun.Held ? " (it may wait on the application's own held user)" : "")}; {given}" +
                               $"{(r.Run.Splits > 0 ? $"; {r.Run.Splits} batch(es) split and retried at half the size" : "")}" +
                               $"; the deferred indexes, archive bookkeeping and statistics took {r.Run.IndexBuild.TotalSeconds:N1} s of the run ({r.Run.IndexStatements:N0} statements)" +
                               $"; writers' p99 while the batches copied {Phase(r.WritersDuringCopy)}, while the indexes and bookkeeping were built {Phase(r.WritersDuringBuild)}.");
        }

        return sb.ToString();

        string Phase(LatencySummary l) => l.Count == 0
            ? "(no statement)"
            : string.Create(inv, $"{l.P99Ms:N1} ms ({l.P99Ms / WritersAlone.Latency.P99Ms:F2}× alone, {l.Count:N0} statements)");

        static string Errors(LegacyWriterReport r) =>
            r.TotalErrors == 0 ? "none" : string.Join(", ", r.ErrorsBySqlState.Select(e => $"{e.Value} × {e.Key}"));
    }

    private static double Pct(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Floor(p * sorted.Count))];
}
