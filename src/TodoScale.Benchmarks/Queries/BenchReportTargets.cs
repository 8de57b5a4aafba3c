using System.Text;

namespace TodoScale.Benchmarks;

/// <summary>The report's verdicts: the guide's targets against the measured figures, the tuning comparison and the growth of the history.</summary>
public static partial class BenchReport
{
    private static void AppendTargets(StringBuilder sb, BenchResult r)
    {
        const string st = BenchRunner.StageMaintained;
        var final = BenchLayouts.Final.Key;
        var maxClients = r.Options.Clients.Max();
        sb.AppendLine("### Where we stand against the targets");
        sb.AppendLine();
        sb.AppendLine("| target | measured (final layout: clustered, force_generic_plan) | verdict |");
        sb.AppendLine("|---|---|---|");

        var t = r.Cell(st, final, QueryKind.Top20, UserSets.Skewed, maxClients);
        var tb = r.Cell(st, BenchLayouts.Indexed.Key, QueryKind.Top20, UserSets.Skewed, maxClients);
        var ta = r.Cell(st, BenchLayouts.Legacy.Key, QueryKind.Top20, UserSets.Skewed, maxClients);
        var pg = r.PgBench.FirstOrDefault(p => p.Stage == st && p.Layout.Key == final && p.UserSet == UserSets.Skewed && p.Clients == maxClients);
        var pgb = r.PgBench.FirstOrDefault(p => p.Stage == st && p.Layout.Key == BenchLayouts.Indexed.Key && p.UserSet == UserSets.Skewed && p.Clients == maxClients);
        var pga = r.PgBench.FirstOrDefault(p => p.Stage == st && p.Layout.Key == BenchLayouts.Legacy.Key && p.UserSet == UserSets.Skewed && p.Clients == maxClients);
        if (t is not null && tb is not null)
        {
            var rb = t.Stats.PerSecond / tb.Stats.PerSecond;
            var ra = ta is null ? double.NaN : t.Stats.PerSecond / ta.Stats.PerSecond;
            var pgText = pg is not null && pgb is not null
                ? $"; pgbench {pg.Result.Tps / pgb.Result.Tps:F2}× (b), {(pga is null ? "n/a" : (pg.Result.Tps / pga.Result.Tps).ToString("F1", Inv))}× (a)"
                : "";
            sb.AppendLine(Inv, $"| Top-20 throughput ≥ 1.0× (b), ≥ 1000× (a) | Npgsql {maxClients} clients, skewed users: {rb:F2}× (b), {ra:F1}× (a){pgText} | " +
                               $"{(rb >= 1.0 ? "met vs (b)" : "**not met** vs (b)")}; {(ra >= 1000 ? "met vs (a)" : "**not met** vs (a): (a) already has a user_id index, so it is nowhere near 1000× slower at this size")} |");
        }

        // The 1000× of the issue is what a table with nothing but its primary key costs (seconds per query at 5M
        // rows); (a0) is that table, measured with one client only because every query scans all of it.
        var t1 = r.Cell(st, final, QueryKind.Top20, UserSets.Skewed, 1);
        var ta0 = r.Cell(st, BenchLayouts.LegacyPkOnly.Key, QueryKind.Top20, UserSets.Skewed, 1);
        if (t1 is not null && ta0 is not null)
        {
            var r0 = t1.Stats.PerSecond / ta0.Stats.PerSecond;
            sb.AppendLine(Inv, $"| (context) Top-20 throughput vs (a0), the legacy table with only its primary key | 1 client, skewed users: {r0:N0}× ((a0) p50 {Ms(ta0.Stats.P50Ms)} ms, final {Ms(t1.Stats.P50Ms)} ms) | " +
                               $"{(r0 >= 1000 ? "≥ 1000×" : "below 1000× at this size")}: (a0) reads the whole table, so the gap grows with the table |");
        }

        var tbp = r.Cell(st, BenchLayouts.Covering.Key, QueryKind.Top20, UserSets.Skewed, maxClients);
        var pgbp = r.PgBench.FirstOrDefault(p => p.Stage == st && p.Layout.Key == BenchLayouts.Covering.Key && p.UserSet == UserSets.Skewed && p.Clients == maxClients);
        if (t is not null && tbp is not null)
        {
            var rbp = t.Stats.PerSecond / tbp.Stats.PerSecond;
            sb.AppendLine(Inv, $"| (extra) Top-20 throughput vs (b+), the single table with our own indexes | Npgsql {maxClients} clients, skewed users: {rbp:F2}×{(pg is not null && pgbp is not null ? $"; pgbench {pg.Result.Tps / pgbp.Result.Tps:F2}×" : "")} | {(rbp >= 1.0 ? "ahead" : "behind")} |");
        }

        foreach (var c in r.Options.Clients)
        {
            var dash = r.Cell(st, final, QueryKind.Dashboard, UserSets.Heavy, c);
            var dashB = r.Cell(st, BenchLayouts.Indexed.Key, QueryKind.Dashboard, UserSets.Heavy, c);
            var dashBp = r.Cell(st, BenchLayouts.Covering.Key, QueryKind.Dashboard, UserSets.Heavy, c);
            if (dash is not null && dashB is not null)
            {
                var ratio = dashB.Stats.P99Ms / dash.Stats.P99Ms;
                var plus = dashBp is null ? "" : $"; (b+) {Ms(dashBp.Stats.P99Ms)} ms = {dashBp.Stats.P99Ms / dash.Stats.P99Ms:F2}× ({IndexShare(dashB.Stats.P99Ms, dashBp.Stats.P99Ms, dash.Stats.P99Ms)})";
                sb.AppendLine(Inv, $"| Heavy-user dashboard p99 ≥ 3× lower than (b) | {c} client(s): p99 {Ms(dash.Stats.P99Ms)} ms vs (b) {Ms(dashB.Stats.P99Ms)} ms = {ratio:F2}× lower{plus} | {(ratio >= 3 ? "met" : "**not met**")} |");
            }
        }

        var list = r.Cell(st, final, QueryKind.ListWithArchive, UserSets.Skewed, 1);
        var listA = r.Cell(st, BenchLayouts.Legacy.Key, QueryKind.ListWithArchive, UserSets.Skewed, 1);
        var top1 = r.Cell(st, final, QueryKind.Top20, UserSets.Skewed, 1);
        var dash1 = r.Cell(st, final, QueryKind.Dashboard, UserSets.Heavy, 1);
        if (list is not null && listA is not null)
        {
            sb.AppendLine(Inv, $"| Guide: user todo query 50–200 ms (from 2–5 s) | list with archive p99 {Ms(list.Stats.P99Ms)} ms ((a): {Ms(listA.Stats.P99Ms)} ms) | {GuideRange(list.Stats.P99Ms, 50, 200)} |");
        }

        if (top1 is not null)
        {
            sb.AppendLine(Inv, $"| Guide: top-20 open todos < 10 ms with an index scan | p99 {Ms(top1.Stats.P99Ms)} ms, plan below | {(top1.Stats.P99Ms < 10 ? "met" : "**not met**")} |");
        }

        if (dash1 is not null)
        {
            sb.AppendLine(Inv, $"| Guide: dashboard 0.5–1 s (from 5–10 s) | heavy users p99 {Ms(dash1.Stats.P99Ms)} ms | {GuideRange(dash1.Stats.P99Ms, 500, 1000)} |");
        }

        var dumpLegacy = r.Operations.FirstOrDefault(op => op.Operation.StartsWith("pg_dump", StringComparison.Ordinal) && op.Subject.Contains("legacy", StringComparison.Ordinal));
        var dumpNightly = r.Operations.FirstOrDefault(op => op.Operation.StartsWith("pg_dump", StringComparison.Ordinal) && op.Subject.Contains("active", StringComparison.Ordinal));
        if (dumpLegacy is not null && dumpNightly is not null)
        {
            sb.AppendLine(Inv, $"| Guide: much faster backups | nightly dump (active + open archive month) {dumpNightly.Elapsed.TotalSeconds:F2} s / {dumpNightly.Bytes / 1048576.0:F0} MiB vs whole legacy table {dumpLegacy.Elapsed.TotalSeconds:F2} s / {dumpLegacy.Bytes / 1048576.0:F0} MiB = {dumpLegacy.Elapsed.TotalSeconds / dumpNightly.Elapsed.TotalSeconds:F1}× faster | the active set is not small here: every open todo of 12 months stays active |");
        }

        AppendGrowthTarget(sb, r);
        sb.AppendLine(ApiReport.TargetRow(r));
        sb.AppendLine("| Migration ≥ 60% / archival ≥ 50% of single-statement rate | measured by `todoscale bench migration` and `todoscale bench archival` (their sections of this file) | — |");
        sb.AppendLine();
    }

    // The guide promises a range; a figure below its low end is met, and how far below is said in numbers.
    private static string GuideRange(double p99Ms, double lowMs, double highMs) =>
        double.IsNaN(p99Ms) ? "n/a"
        : p99Ms > highMs ? $"**not met** ({p99Ms / highMs:F1}× above {highMs:N0} ms)"
        : p99Ms >= lowMs ? "met (within the range)"
        : string.Create(Inv, $"met ({lowMs / p99Ms:N0}× below the range's low end)");

    // What the same index set in one table, (b+), recovers of the gap between (b) and TodoScale: computed, not assumed.
    internal static string IndexShare(double bMs, double bPlusMs, double finalMs)
    {
        var gap = bMs - finalMs;
        if (double.IsNaN(gap) || gap <= 0)
        {
            return "TodoScale is not ahead of (b) here";
        }

        var share = (bMs - bPlusMs) / gap;
        if (share < 0)
        {
            // (b+) slower than (b): a share of the gap below zero would read as a figure, not as what it means.
            return "TodoScale's index set in one table is slower than (b)'s: the gain is the layout";
        }

        return share >= 0.8 ? $"TodoScale's index set in one table recovers {share * 100:F0}% of the gap to (b): the gain is mostly the indexes, which a single table can have too"
            : share <= 0.2 ? $"TodoScale's index set in one table recovers only {share * 100:F0}% of the gap to (b): the gain is mostly the layout"
            : $"TodoScale's index set in one table recovers {share * 100:F0}% of the gap to (b); the layout gives the rest";
    }

    private static void AppendTuning(StringBuilder sb, BenchResult r)
    {
        sb.AppendLine("### Tuning, as this run measured it");
        sb.AppendLine();
        sb.AppendLine("Throughput ratios (req/s of the tuned variant ÷ req/s of the untuned one), same stage, same users and clients:");
        sb.AppendLine();
        sb.AppendLine("| tuning | query | users | " + string.Join(" | ", r.Options.Clients.Select(c => $"{c} client(s)")) + " |");
        sb.AppendLine("|---|---|---|" + string.Concat(r.Options.Clients.Select(_ => "---:|")));
        var rows = new (string Tuning, string Stage, BenchLayout Tuned, string BaseStage, BenchLayout Untuned)[]
        {
            ("force_generic_plan vs default (custom plans), before clustering", BenchRunner.StageMigrated, BenchLayouts.TodoScaleGeneric, BenchRunner.StageMigrated, BenchLayouts.TodoScaleCustom),
            ("clustering by user (both force_generic_plan; stages minutes apart)", BenchRunner.StageMaintained, BenchLayouts.TodoScaleGenericClustered, BenchRunner.StageMigrated, BenchLayouts.TodoScaleGeneric),
        };
        foreach (var (tuning, stage, tuned, baseStage, untuned) in rows)
        {
            foreach (var query in r.Options.Queries)
            {
                foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
                {
                    var cells = r.Options.Clients.Select(c =>
                        Ratio(r.Cell(stage, tuned.Key, query, set, c), r.Cell(baseStage, untuned.Key, query, set, c)) is var x && double.IsNaN(x)
                            ? "n/a"
                            : x.ToString("F2", Inv) + "×");
                    sb.AppendLine(Inv, $"| {tuning} | {BenchQueries.Title(query)} | {set} | {string.Join(" | ", cells)} |");
                }
            }
        }

        sb.AppendLine();
    }

    // Small and grown history are two layouts of the growth stage, measured in alternating turns of the same rounds.
    private static readonly (BenchLayout Small, BenchLayout Grown, string Name)[] GrowthLayouts =
    [
        (BenchLayouts.IndexedSmall, BenchLayouts.IndexedGrown, "(b) single table, best composite indexes"),
        (BenchLayouts.FinalSmall, BenchLayouts.FinalGrown, "TodoScale final (clustered, force_generic_plan)"),
    ];

    internal static (CellResult? Small, CellResult? Grown) GrowthPair(BenchResult r, BenchLayout small, BenchLayout grown, QueryKind query, string set, int clients) =>
        (r.Cell(BenchRunner.StageGrown, small.Key, query, set, clients), r.Cell(BenchRunner.StageGrown, grown.Key, query, set, clients));

    private static void AppendGrowthTarget(StringBuilder sb, BenchResult r)
    {
        if (r.GrownRows == 0 || r.Data is null)
        {
            sb.AppendLine("| Active-path latency at 10M rows within 1.1× of 1M | not measured in this run (`--grow-to 10000000` measures it) | open |");
            return;
        }

        var parts = new List<string>();
        var worst = 0.0;
        foreach (var query in r.Options.Queries.Where(q => q is QueryKind.Top20 or QueryKind.Dashboard))
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                var (small, grown) = GrowthPair(r, BenchLayouts.FinalSmall, BenchLayouts.FinalGrown, query, set, 1);
                if (small is null || grown is null)
                {
                    continue;
                }

                var ratio = grown.Stats.P50Ms / small.Stats.P50Ms;
                worst = Math.Max(worst, ratio);
                parts.Add($"{BenchQueries.Title(query)}, {set}: p50 {Ms(small.Stats.P50Ms)} → {Ms(grown.Stats.P50Ms)} ms ({ratio:F2}×)");
            }
        }

        var verdict = worst == 0 ? "n/a" : worst <= 1.1 ? "met" : "**not met**";
        sb.AppendLine(Inv, $"| Active-path latency constant as history grows (target: 10M vs 1M within 1.1×) | {r.Data.Rows:N0} → {r.GrownRows:N0} total rows, 1 client, measured in alternation: {string.Join("; ", parts)} | {verdict} |");
        AppendArchiveTarget(sb, r);
    }

    // Issue 16's bounds on what the archive's months may cost a user's reads: p50 at the grown history ÷ at the original.
    // The list is judged at the same answer size (ListSameAnswer): the application's page (ListWithArchive) returns more
    // rows once a user's history fills it, a cost of the answer that any layout pays; a run without the same-answer
    // measurement judges the application's page.
    private const double ListBound = 1.2;

    internal static readonly (QueryKind Query, double Bound)[] ArchiveBounds =
        [(QueryKind.ListSameAnswer, ListBound), (QueryKind.Dashboard, 1.1), (QueryKind.ArchivedById, 1.2)];

    // A ratio judged against a bound, with a third decimal where two would print the bound itself (1.2004 "above 1.2").
    internal static string Against(double ratio, double bound) =>
        ratio.ToString("F2", Inv) == bound.ToString("F2", Inv) && ratio != bound ? ratio.ToString("F3", Inv) : ratio.ToString("F2", Inv);

    private static IReadOnlyList<QueryKind> GrowthQueries(BenchResult r) =>
        r.Stages.FirstOrDefault(s => s.Key == BenchRunner.StageGrown)?.QueriesOf(r.Options) ?? r.Options.Queries;

    private static double? GrowthRatio(BenchResult r, QueryKind query, string set) =>
        GrowthPair(r, BenchLayouts.FinalSmall, BenchLayouts.FinalGrown, query, set, 1) is ({ } small, { } grown) ? grown.Stats.P50Ms / small.Stats.P50Ms : null;

    internal static void AppendArchiveTarget(StringBuilder sb, BenchResult r)
    {
        var measured = GrowthQueries(r);
        var sameAnswer = measured.Contains(QueryKind.ListSameAnswer);
        var bounds = ArchiveBounds.Select(b => b.Query == QueryKind.ListSameAnswer && !sameAnswer ? (Query: QueryKind.ListWithArchive, Bound: ListBound) : b)
            .Where(b => measured.Contains(b.Query));
        var parts = new List<string>();
        var missed = new List<string>();
        foreach (var (query, bound) in bounds)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                var (small, grown) = GrowthPair(r, BenchLayouts.FinalSmall, BenchLayouts.FinalGrown, query, set, 1);
                if (small is null || grown is null)
                {
                    continue;
                }

                var ratio = grown.Stats.P50Ms / small.Stats.P50Ms;
                parts.Add($"{BenchQueries.Title(query)} (≤ {bound:F1}×), {set}: p50 {Ms(small.Stats.P50Ms)} → {Ms(grown.Stats.P50Ms)} ms ({Against(ratio, bound)}×)");
                if (!(ratio <= bound))
                {
                    missed.Add($"{BenchQueries.Key(query)} {set}");
                }
            }
        }

        if (parts.Count == 0)
        {
            return;
        }

        // The application's page beside it, with how many rows its archive part returned in each history: where it grows
        // more than the same answer does, the difference is the longer answer.
        var longer = new List<string>();
        if (sameAnswer && measured.Contains(QueryKind.ListWithArchive))
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                if (GrowthRatio(r, QueryKind.ListWithArchive, set) is not { } asked || GrowthRatio(r, QueryKind.ListSameAnswer, set) is not { } same)
                {
                    continue;
                }

                var rows = r.ArchivePageRows.TryGetValue(set, out var p) ? string.Create(Inv, $", its archive page {p.Small:F1} → {p.Grown:F1} rows on average") : "";
                parts.Add(string.Create(Inv, $"the application's list, {set}: {Against(asked, ListBound)}×{rows}"));
                if (asked > ListBound && same <= ListBound)
                {
                    longer.Add(string.Create(Inv, $"{set} {Against(asked, ListBound)}× as the application asks, {Against(same, ListBound)}× at the same answer size: the longer answer, not the months"));
                }
                else if (asked > ListBound)
                {
                    longer.Add(string.Create(Inv, $"{set} {Against(asked, ListBound)}× as the application asks"));
                }
            }
        }

        var months = r.HistoryYears * 12;
        var verdict = missed.Count == 0 ? "met" : $"**not met** ({string.Join(", ", missed)})";
        if (longer.Count > 0)
        {
            verdict += string.Create(Inv, $"; the application's list above {ListBound:F1}×: {string.Join("; ", longer)}");
        }

        sb.AppendLine(Inv, $"| Archive with {months} more months: list including the archive ≤ 1.2× (at the same answer size), dashboard ≤ 1.1×, archived todo by id ≤ 1.2× the same users' p50 before | " +
                           $"1 client, measured in alternation: {string.Join("; ", parts)} | {verdict} |");
    }

    private static void AppendGrowth(StringBuilder sb, BenchResult r)
    {
        if (r.GrownRows == 0 || r.Data is null)
        {
            return;
        }

        sb.AppendLine("### History growth: same open todos, more finished history");
        sb.AppendLine();
        sb.AppendLine(Inv, $"The growth stage added {r.HistoryYears} years of finished todos ({r.GrownRows - r.Data.Rows:N0} rows: copies of the archive moved back by whole years) " +
                           $"as {r.HistoryYears * 12} more monthly partitions of `todos_archived`, and to a grown twin of (b), `bench_todos_grown` ({r.GrownRows:N0} rows, the same indexes). " +
                           $"The active set is unchanged. Small and grown history are measured in alternating turns of the same rounds: the archive's added months are " +
                           $"detached and re-attached between turns (`bench_set_history`, milliseconds thanks to CHECK constraints equal to the bounds), and (b) and its twin " +
                           $"take turns, so the ratios compare measurements seconds apart rather than stages minutes apart. p50 / p99 in ms, small → grown, and grown/small of p50 (1.00 = constant).");
        sb.AppendLine();
        if (GrowthQueries(r).Contains(QueryKind.ListSameAnswer))
        {
            var rows = string.Join(", ", r.ArchivePageRows.Select(p => string.Create(Inv, $"{p.Key} users {p.Value.Small:F1} → {p.Value.Grown:F1} rows on average")));
            sb.AppendLine(Inv, $"The list including the archive is measured twice. As the application asks ({BenchQueries.Title(QueryKind.ListWithArchive)}), " +
                               $"the archive's part is a page of up to {BenchQueries.ListLimit} rows, and a user whose original history held fewer gets more of them once it grows " +
                               $"({rows}); every layout pays for rows it returns. At the same answer size ({BenchQueries.Title(QueryKind.ListSameAnswer)}) each user asks for as many " +
                               $"archived rows as their page held in the original history (counted before the growth), so both histories return the same rows' count and the " +
                               $"ratio is what the added months cost.");
            sb.AppendLine();
        }

        sb.AppendLine("| query | users | clients | layout | p50 small | p50 grown | p50 ratio | p99 small | p99 grown | p99 ratio |");
        sb.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var query in GrowthQueries(r))
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                foreach (var c in r.Options.Clients)
                {
                    foreach (var (smallLayout, grownLayout, name) in GrowthLayouts)
                    {
                        var (small, grown) = GrowthPair(r, smallLayout, grownLayout, query, set, c);
                        if (small is null || grown is null)
                        {
                            continue;
                        }

                        sb.AppendLine(Inv, $"| {BenchQueries.Title(query)} | {set} | {c} | {name} | {Ms(small.Stats.P50Ms)} | {Ms(grown.Stats.P50Ms)} | {grown.Stats.P50Ms / small.Stats.P50Ms:F2} | " +
                                           $"{Ms(small.Stats.P99Ms)} | {Ms(grown.Stats.P99Ms)} | {grown.Stats.P99Ms / small.Stats.P99Ms:F2} |");
                    }
                }
            }
        }

        sb.AppendLine();
    }
}
