using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

// A small run of `todoscale bench archival` on real PostgreSQL: it proves the harness moves every row once in every
// variant, probes the list query around each, and writes only its own block of benchmarks.md. Nothing about speed.
public sealed class ArchivalBenchTests(PostgresServer server)
{
    private static ArchivalBenchOptions SmallRun() => new()
    {
        DoneRows = 6_000,
        OpenRows = 1_200,
        RecentRows = 300,
        Users = 120,
        BatchSize = 400,
        ProbeRate = 400,
        ProbeConnections = 2,
        ProbeWarmup = TimeSpan.FromMilliseconds(200),
        Idle = TimeSpan.FromSeconds(1),
        After = TimeSpan.FromMilliseconds(300),
        Rounds = 1,
        DatabaseName = $"archbench_{Guid.NewGuid():N}"[..22],
        CommandLine = "todoscale bench archival --done-rows 6000",
    };

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task every_variant_moves_each_done_todo_exactly_once_the_probe_measures_idle_during_and_after_each_and_the_report_keeps_the_rest_of_benchmarks_md()
    {
        var options = SmallRun();
        var result = await new ArchivalBench(server.AdminConnectionString, options, _ => { }).RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(ArchivalVariants.DefaultKeys, result.Runs.Select(r => r.Variant.Key));
        Assert.All(result.Runs, r =>
        {
            Assert.True(r.Check.Passed, $"{r.Variant.Key}: {r.Check}");
            // The CPU control moves nothing; every archival variant moves exactly the done todos older than 30 days.
            Assert.Equal(r.Variant.MovesRows ? options.DoneRows : 0, r.Check.Archived);
            Assert.Equal(r.Variant.MovesRows ? options.DoneRows : 0, r.Check.DistinctArchived);
            Assert.Equal(options.OpenRows + options.RecentRows + (r.Variant.MovesRows ? 0 : options.DoneRows), r.Check.ActiveRows);
            Assert.True(r.Seconds > 0);
            Assert.True(r.Idle.Count > 0, $"{r.Variant.Key}: no idle measurement");
            Assert.True(r.During.Count > 0, $"{r.Variant.Key}: no measurement during archival ({r.Seconds:F3} s)");
            Assert.True(r.Idle.P99 > 0 && r.During.P99 > 0);
            // The list statement was really executed through its index: entries were read while probing.
            Assert.True(r.Idle.EntriesPerQuery > 0, $"{r.Variant.Key}: the probe read no index entries");
        });
        Assert.Equal(options.DoneRows, result.Data.DoneRows);
        Assert.True(result.Plan.BatchPlans > 0, result.Plan.Unavailable);
        Assert.Contains("CTE picked", result.Plan.Text);
        // A backlog batch of the procedure; at this size its pages cover a whole partition, so no TID range scan is expected.
        Assert.Contains("Delete on todos_active_part_0", result.Plan.PagesText);

        var dir = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        const string existing = "# Benchmarks\n\n## Migration\n\nmigration figures stay\n\n## Maintenance\n\nthe hand-written findings stay\n";
        await File.WriteAllTextAsync(Path.Combine(dir, "benchmarks.md"), existing);
        ArchivalReport.Write(result, dir);
        ArchivalReport.Write(result, dir); // a second run replaces its own block instead of adding another

        var md = await File.ReadAllTextAsync(Path.Combine(dir, "benchmarks.md"));
        Assert.Contains("## Migration\n\nmigration figures stay\n\n## Maintenance\n\nthe hand-written findings stay\n", md);
        Assert.StartsWith("# Benchmarks\n", md);
        Assert.EndsWith(existing["# Benchmarks\n".Length..], md);
        Assert.Equal(1, md.Split(ArchivalBench.BeginMarker).Length - 1);
        Assert.Contains(options.CommandLine, md);
        Assert.Contains("CALL archive_completed_todos_in_batches(30, 400)", md);
        Assert.Contains("p99 during / idle", md);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task options_out_of_range_are_refused_with_the_option_named()
    {
        // Yield first, so the body runs on the pool and the Timeout can end it should it never return.
        await Task.Yield();
        Assert.Contains("--batch-size", Assert.Throws<ArgumentException>(() => (SmallRun() with { BatchSize = 0 }).Validate()).Message);
        Assert.Contains("--probe-rate", Assert.Throws<ArgumentException>(() => (SmallRun() with { ProbeRate = 0 }).Validate()).Message);
        Assert.Contains("unknown archival variant 'fast'", Assert.Throws<ArgumentException>(() => (SmallRun() with { Variants = ["fast"] }).Validate()).Message);
        Assert.Contains("--bench-database", Assert.Throws<ArgumentException>(() => (SmallRun() with { DatabaseName = "Bad-Name" }).Validate()).Message);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task a_plan_whose_batches_scan_the_done_index_of_every_partition_counts_as_found_through_the_index_and_is_condensed()
    {
        await Task.Yield();
        var partitions = string.Concat(Enumerable.Range(0, 16).Select(p => $"""
                                ->  Index Scan using idx_todos_active_done_completed_p{p} on todos_active_part_{p} a_{p + 1}  (actual rows=300 loops=1)
                                      Index Cond: ((completed_at < $1) AND (completed_at >= $3))
                                      Filter: (status = 'done'::text)

            """));
        var plan = $"""
            Result  (actual rows=1 loops=1)
              CTE picked
                ->  Limit  (actual rows=5000 loops=1)
                      ->  LockRows  (actual rows=5000 loops=1)
                            ->  Merge Append  (actual rows=5000 loops=1)
                                  Sort Key: a.completed_at
            {partitions}  CTE removed
                ->  Delete on todos_active t  (actual rows=5000 loops=1)
            """;
        var scanned = plan.Replace("Index Scan using idx_todos_active_done_completed_p3 on", "Seq Scan on", StringComparison.Ordinal);

        var found = ArchivalPlanText.AnalysePlans([plan, plan], null);
        var mixed = ArchivalPlanText.AnalysePlans([plan, scanned], null);

        Assert.True(found.FindsRowsThroughIndex);
        Assert.Equal(2, found.BatchPlansUsingIndex);
        Assert.False(mixed.FindsRowsThroughIndex);
        Assert.Equal(1, mixed.BatchPlansWithPartitionScan);
        Assert.Contains("idx_todos_active_done_completed_p0 on todos_active_part_0", found.Text);
        Assert.Contains("the same Index Scan using idx_todos_active_done_completed_pN on 15 more partitions", found.Text);
        Assert.DoesNotContain("todos_active_part_7", found.Text);
    }
}
