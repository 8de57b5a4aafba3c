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
}

/// <summary>One migration measurement: the single statement, the live runs under writers, the writers alone, validation.</summary>
public sealed record MigrationMeasurementResult(
    long LegacyRows, TimeSpan SingleStatement, TimeSpan Validation, LegacyWriterReport WritersAlone,
    IReadOnlyList<MigrationLiveRun> Runs, IReadOnlyList<ValidationCheck> Checks)
{
    public double SingleStatementRowsPerSecond => LegacyRows / SingleStatement.TotalSeconds;

    public MigrationLiveRun? Run(string name) => Runs.FirstOrDefault(r => r.Name == name);

    /// <summary>Copy rate of a live run relative to the single statement (target ≥ 0.60).</summary>
    public double CopyRatio(MigrationLiveRun r) => r.RowsPerSecond / SingleStatementRowsPerSecond;

    /// <summary>Writers' p99 during a live run relative to their p99 alone (target ≤ 2).</summary>
    public double P99Ratio(MigrationLiveRun r) => r.Writers.Latency.P99Ms / WritersAlone.Latency.P99Ms;

    public string ToMarkdown(MigrationMeasurementOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"| Copy of {LegacyRows:N0} legacy rows | time | rows/s | ÷ single statement | writers' p50 / p99 / max ms | p99 ÷ alone | batches | batch rows (median) | batch ms (median / p99) | splits | paused | errors |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        sb.AppendLine(inv, $"| one `INSERT … SELECT` of the whole table (offline, the physical limit) | {SingleStatement.TotalSeconds:N1} s | {SingleStatementRowsPerSecond:N0} | 1.00 | writers alone: {WritersAlone.Latency.P50Ms:N2} / {WritersAlone.Latency.P99Ms:N1} / {WritersAlone.Latency.MaxMs:N0} | 1.00 | | | | | | {Errors(WritersAlone)} |");
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
        if (Run(MigrationLiveRun.Held) is { } h)
        {
            var signals = h.Run.Samples.Where(s => s.Signal is not null).GroupBy(s => s.Signal!).Select(g => $"{g.Key} ×{g.Count()}");
            sb.AppendLine(inv, $"Held-user run: {h.Run.Splits} batches split and retried at half the size (signals: {string.Join(", ", signals)}); " +
                               $"the longest a writer waited for anything was {h.Writers.Latency.MaxMs:N0} ms (the lock bound: one batch, 200 ms lock_timeout).");
        }

        return sb.ToString();

        static string Errors(LegacyWriterReport r) =>
            r.TotalErrors == 0 ? "none" : string.Join(", ", r.ErrorsBySqlState.Select(e => $"{e.Value} × {e.Key}"));
    }

    private static double Pct(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Floor(p * sorted.Count))];
}
