using System.Text;

namespace TodoScale.Benchmarks;

/// <summary>
/// TodoScale against the peer tuned as well as it is (b*), the split of the gain into its causes, the longest upkeep
/// lock of each, and the report's sentences about the machine and the samples, all computed from the run's figures.
/// </summary>
public static partial class BenchReport
{
    // A CPU share above this, while the benchmark itself was idle, means other jobs were running.
    private const double SharedMachineBusy = 0.10;

    // Below this many samples in one round, that round's p99 rests on fewer than 10 observations beyond it.
    private const long SamplesForP99 = 1_000;

    // The issue's bound on the longest lock TodoScale's upkeep may take.
    private static readonly TimeSpan LockTarget = TimeSpan.FromSeconds(2);

    internal static string MachineLoadSentence(BenchResult r)
    {
        if (r.BackgroundBusyBefore is not { } before)
        {
            return "Whether other jobs shared the machine could not be read (/proc/stat missing), so absolute figures may be noisy.";
        }

        var after = r.BackgroundBusyAfter;
        var busiest = Math.Max(before, after ?? 0);
        var measured = string.Create(Inv, $"{before * 100:F0}% of the CPU was busy in the 3 s before the run") + (after is { } a ? string.Create(Inv, $" and {a * 100:F0}% in the 3 s after it") : "");
        return busiest > SharedMachineBusy
            ? $"Other jobs shared the machine: {measured}, with the benchmark idle, so absolute figures are noisy."
            : $"The machine was otherwise quiet: {measured}, with the benchmark idle.";
    }

    internal static string SamplesSentence(BenchResult r)
    {
        var perRound = r.Cells.Where(c => c.Stats.Count > 0)
            .Select(c => (Cell: c, Samples: c.Stats.Count / Math.Max(1, c.Rounds)))
            .OrderBy(x => x.Samples).ToList();
        if (perRound.Count == 0)
        {
            return "";
        }

        var fewest = perRound[0];
        var median = perRound[perRound.Count / 2].Samples;
        var thin = perRound.Count(x => x.Samples < SamplesForP99);
        var where = $"{fewest.Cell.Layout.Key}, {BenchQueries.Key(fewest.Cell.Query)}, {fewest.Cell.UserSet}, {fewest.Cell.Clients} client(s)";
        return string.Create(Inv, $"Samples per cell and round: median {median:N0}, fewest {fewest.Samples:N0} ({where}); ") +
               (thin == 0
                   ? string.Create(Inv, $"every round's p99 rests on at least {SamplesForP99:N0} samples.")
                   : string.Create(Inv, $"{thin} of {perRound.Count} cells have fewer than {SamplesForP99:N0} per round, so their p99 is indicative only (raise --duration)."));
    }

    private static void AppendEqualPeer(StringBuilder sb, BenchResult r)
    {
        const string st = BenchRunner.StageMaintained;
        var final = BenchLayouts.Final.Key;
        var peer = BenchLayouts.Tuned.Key;
        if (!r.Cells.Any(c => c.Stage == st && c.Layout.Key == peer))
        {
            return;
        }

        sb.AppendLine("### TodoScale against the peer tuned as well as we are (b\\*)");
        sb.AppendLine();
        sb.AppendLine("Throughput of the final layout ÷ throughput of (b\\*), same rows, same plan cache mode, both clustered by user and vacuumed (above 1.00 TodoScale is faster):");
        sb.AppendLine();
        sb.AppendLine("| query | users | " + string.Join(" | ", r.Options.Clients.Select(c => $"{c} client(s)")) + " |");
        sb.AppendLine("|---|---|" + string.Concat(r.Options.Clients.Select(_ => "---:|")));
        var shortfalls = new List<string>();
        var compared = 0;
        foreach (var query in r.Options.Queries)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                var cells = r.Options.Clients.Select(c =>
                {
                    var ratio = Ratio(r.Cell(st, final, query, set, c), r.Cell(st, peer, query, set, c));
                    if (double.IsNaN(ratio))
                    {
                        return "n/a";
                    }

                    if (!PeerTargeted(query))
                    {
                        return ratio.ToString("F2", Inv) + "× (not a target)";
                    }

                    compared++;
                    if (ratio < 1.0)
                    {
                        shortfalls.Add(string.Create(Inv, $"{BenchQueries.Title(query)}, {set}, {c} client(s): {ratio:F2}×"));
                    }

                    return ratio.ToString("F2", Inv) + "×";
                });
                sb.AppendLine(Inv, $"| {BenchQueries.Title(query)} | {set} | {string.Join(" | ", cells)} |");
            }
        }

        sb.AppendLine();
        sb.AppendLine(compared == 0
            ? "Verdict (target ≥ 1.0× in every cell of top-20, dashboard and list): not measured."
            : shortfalls.Count == 0
                ? $"Verdict (target ≥ 1.0× in every cell of top-20, dashboard and list): **met** in all {compared} cells."
                : $"Verdict (target ≥ 1.0× in every cell of top-20, dashboard and list): **not met** in {shortfalls.Count} of {compared} cells — {string.Join("; ", shortfalls)}.");
        sb.AppendLine();

        AppendGainSplit(sb, r);
        AppendUpkeepLocks(sb, r);
    }

    // Issue 16 sets the peer target for the pages a user opens; the GET by id is shown beside them, judged by its flatness.
    private static bool PeerTargeted(QueryKind query) => query is QueryKind.Top20 or QueryKind.Dashboard or QueryKind.ListWithArchive;

    // Each factor is one change between two layouts of the same stage; their product is the whole gain over (a).
    private static void AppendGainSplit(StringBuilder sb, BenchResult r)
    {
        const string st = BenchRunner.StageMaintained;
        var steps = new (string Factor, string From, string To)[]
        {
            ("indexes: (a) → (b)", BenchLayouts.Legacy.Key, BenchLayouts.Indexed.Key),
            ("plan cache: (b) → (b-generic)", BenchLayouts.Indexed.Key, BenchLayouts.IndexedGeneric.Key),
            ("clustering: (b-generic) → (b\\*)", BenchLayouts.IndexedGeneric.Key, BenchLayouts.Tuned.Key),
            ("partitioning: (b\\*) → TodoScale final", BenchLayouts.Tuned.Key, BenchLayouts.Final.Key),
            ("all of it: (a) → TodoScale final", BenchLayouts.Legacy.Key, BenchLayouts.Final.Key),
        };
        var clients = new[] { r.Options.Clients.Min(), r.Options.Clients.Max() }.Distinct().ToArray();
        sb.AppendLine("Where the gain over the legacy table comes from (throughput ratio of each step; the first four multiply to the last):");
        sb.AppendLine();
        sb.AppendLine("| query | users | clients | " + string.Join(" | ", steps.Select(s => s.Factor)) + " |");
        sb.AppendLine("|---|---|---:|" + string.Concat(steps.Select(_ => "---:|")));
        foreach (var query in r.Options.Queries)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                foreach (var c in clients)
                {
                    var ratios = steps.Select(s => Ratio(r.Cell(st, s.To, query, set, c), r.Cell(st, s.From, query, set, c))).ToArray();
                    if (ratios.All(double.IsNaN))
                    {
                        continue;
                    }

                    var largest = Array.IndexOf(ratios, ratios.Take(4).Where(x => !double.IsNaN(x)).DefaultIfEmpty(double.NaN).Max());
                    var texts = ratios.Select((x, i) => double.IsNaN(x) ? "n/a" : i == largest ? string.Create(Inv, $"**{x:F2}×**") : string.Create(Inv, $"{x:F2}×"));
                    sb.AppendLine(Inv, $"| {BenchQueries.Title(query)} | {set} | {c} | {string.Join(" | ", texts)} |");
                }
            }
        }

        sb.AppendLine();
        sb.AppendLine("The bold figure in each row is the step that buys the most.");
        sb.AppendLine();
    }

    private static void AppendUpkeepLocks(StringBuilder sb, BenchResult r)
    {
        if (r.PeerClusterLock is not { } peer || r.PartitionClusterLock is not { } part)
        {
            return;
        }

        var verdict = part.Duration <= LockTarget
            ? string.Create(Inv, $"**met**: TodoScale's longest lock {part.Duration.TotalSeconds:F2} s ≤ {LockTarget.TotalSeconds:F0} s")
            : string.Create(Inv, $"**not met**: TodoScale's longest lock {part.Duration.TotalSeconds:F2} s > {LockTarget.TotalSeconds:F0} s");
        sb.AppendLine(Inv, $"Re-clustering, the upkeep that rewrites rows: the peer's `CLUSTER bench_todos_tuned` held its whole-table ACCESS EXCLUSIVE lock for {peer.TotalSeconds:F2} s; " +
                           $"`cluster_partitions()` locks one partition at a time, the longest for {part.Duration.TotalSeconds:F2} s ({part.Step}), " +
                           $"{peer.TotalSeconds / Math.Max(0.001, part.Duration.TotalSeconds):F1}× shorter. Target (longest upkeep lock ≤ {LockTarget.TotalSeconds:F0} s): {verdict}.");
        sb.AppendLine();
    }

    private static double Ratio(CellResult? numerator, CellResult? denominator) =>
        numerator is null || denominator is null || denominator.Stats.PerSecond <= 0 ? double.NaN : numerator.Stats.PerSecond / denominator.Stats.PerSecond;
}
