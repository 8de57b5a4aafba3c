using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TodoScale.Database.Schema;
using TodoScale.Application.Todos;

namespace TodoScale.Benchmarks;

/// <summary>The archival benchmark's section of docs/benchmarks.md: summaries per variant, every round, the batch plans.</summary>
public static class ArchivalReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

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
        ReportHeader.Write(sb, "Archival: batched forms against the single statement, and the list query while they run", r.StartedUtc, r.Total, o.CommandLine);
        sb.AppendLine(Inv, $"**Machine**: {r.Machine.Cores} cores; the benchmark client runs on the same machine. **PostgreSQL**: {r.Machine.PostgresVersion}, " +
                           $"shared_buffers {r.Machine.SharedBuffers}, fsync {r.Machine.Fsync}, synchronous_commit {r.Machine.SynchronousCommit}, max_wal_size {r.Machine.MaxWalSize}.");
        sb.AppendLine();
        sb.AppendLine(Inv, $"**Data** (template database, {(d.Reused ? "reused from an earlier run" : $"built in {d.FillSeconds:F0} s")}): the real schema through the migrator " +
                           $"({string.Join(", ", ScalingScripts.Names.Select(n => n[..3]))}, with 009's statement triggers on the archive), filled by `Sql/archival_bench.sql`: {d.Users:N0} users (the heaviest {d.HeavyUsers:N0} own {o.HeavyShare:P0} of the todos), " +
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

    public static string Write(ArchivalBenchResult r, string directory) =>
        MarkdownSections.WriteBlock(directory, ArchivalBench.BeginMarker, ArchivalBench.EndMarker, Markdown(r));
}
