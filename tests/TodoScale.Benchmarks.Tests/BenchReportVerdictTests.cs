using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

// The report's verdicts and explanations come from the run's figures: the same report text with other figures must
// say otherwise. Each test feeds two sets of figures and expects two different sentences.
public sealed class BenchReportVerdictTests
{
    private static BenchResult Result(Action<BenchResult>? fill = null, QueryKind[]? queries = null)
    {
        var r = new BenchResult
        {
            Options = new BenchOptions { Clients = [1, 16], Queries = queries ?? [QueryKind.Top20], Rounds = 3, Api = false },
            Machine = new MachineInfo(2, 24_000, "PostgreSQL 15.18 on x86_64", "128MB", "linux", ".NET 10"),
            StartedUtc = new DateTime(2026, 12, 2, 3, 0, 0, DateTimeKind.Utc),
        };
        fill?.Invoke(r);
        return r;
    }

    // Three rounds of one second each: the cell's rate is perSecond, its samples perSecond per round.
    private static void Cell(BenchResult r, BenchLayout layout, int clients, double perSecond, string set = UserSets.Skewed) =>
        r.Cells.Add(new CellResult(BenchRunner.StageMaintained, layout, QueryKind.Top20, set, clients, new LatencyStats((long)(perSecond * 3), 3, 1000 / perSecond, 1, 2, 1)) { Rounds = 3 });

    private static void Layouts(BenchResult r, double finalRate, double peerRate)
    {
        foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
        {
            foreach (var c in r.Options.Clients)
            {
                Cell(r, BenchLayouts.Legacy, c, 1_000, set);
                Cell(r, BenchLayouts.Indexed, c, 2_000, set);
                Cell(r, BenchLayouts.IndexedGeneric, c, 3_000, set);
                Cell(r, BenchLayouts.Tuned, c, peerRate, set);
                Cell(r, BenchLayouts.Final, c, finalRate, set);
            }
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_equal_peer_verdict_follows_the_figures_of_the_run()
    {
        await Task.Yield();
        var ahead = BenchReport.Markdown(Result(r => Layouts(r, finalRate: 6_600, peerRate: 6_000)), []);
        var behind = BenchReport.Markdown(Result(r => Layouts(r, finalRate: 5_400, peerRate: 6_000)), []);

        Assert.Contains("### TodoScale against the peer tuned as well as we are (b\\*)", ahead);
        Assert.Contains("| Top-20 open todos | skewed | 1.10× | 1.10× |", ahead);
        Assert.Contains("**met** in all 4 cells", ahead);
        Assert.Contains("| Top-20 open todos | skewed | 0.90× | 0.90× |", behind);
        Assert.Contains("**not met** in 4 of 4 cells", behind);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_get_by_id_is_shown_against_the_peer_but_not_counted_in_its_verdict()
    {
        await Task.Yield();
        var md = BenchReport.Markdown(Result(r =>
        {
            Layouts(r, finalRate: 6_600, peerRate: 6_000);
            r.Cells.Add(new CellResult(BenchRunner.StageMaintained, BenchLayouts.Tuned, QueryKind.ArchivedById, UserSets.Skewed, 1, new LatencyStats(30_000, 3, 0.1, 1, 2, 1)));
            r.Cells.Add(new CellResult(BenchRunner.StageMaintained, BenchLayouts.Final, QueryKind.ArchivedById, UserSets.Skewed, 1, new LatencyStats(15_000, 3, 0.2, 1, 2, 1)));
        }, [QueryKind.Top20, QueryKind.ArchivedById]), []);

        Assert.Contains("| Archived todo by id | skewed | 0.50× (not a target) | n/a |", md);
        Assert.Contains("**met** in all 4 cells", md);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_gain_is_split_into_indexes_plan_cache_clustering_and_partitioning_whose_product_is_the_whole()
    {
        await Task.Yield();
        var md = BenchReport.Markdown(Result(r => Layouts(r, finalRate: 12_000, peerRate: 6_000)), []);

        // (a) 1,000 → (b) 2,000 → (b-generic) 3,000 → (b*) 6,000 → final 12,000 req/s: 2 × 1.5 × 2 × 2 = 12.
        Assert.Contains("| Top-20 open todos | skewed | 16 | **2.00×** | 1.50× | 2.00× | 2.00× | 12.00× |", md);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_note_on_the_machine_says_shared_only_when_other_jobs_kept_it_busy()
    {
        await Task.Yield();
        var quiet = BenchReport.MachineLoadSentence(Result(r => { r.BackgroundBusyBefore = 0.02; r.BackgroundBusyAfter = 0.04; }));
        var shared = BenchReport.MachineLoadSentence(Result(r => { r.BackgroundBusyBefore = 0.02; r.BackgroundBusyAfter = 0.65; }));

        Assert.StartsWith("The machine was otherwise quiet: 2% of the CPU was busy in the 3 s before the run and 4% in the 3 s after it", quiet);
        Assert.StartsWith("Other jobs shared the machine: 2% of the CPU was busy in the 3 s before the run and 65% in the 3 s after it", shared);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_report_says_how_many_samples_each_p99_rests_on_and_flags_thin_cells()
    {
        await Task.Yield();
        var thick = BenchReport.SamplesSentence(Result(r => Cell(r, BenchLayouts.Final, 1, 5_000)));
        var thin = BenchReport.SamplesSentence(Result(r =>
        {
            Cell(r, BenchLayouts.Final, 1, 5_000);
            Cell(r, BenchLayouts.LegacyPkOnly, 1, 20);
        }));

        Assert.Equal("Samples per cell and round: median 5,000, fewest 5,000 (t-generic-clustered, top20, skewed, 1 client(s)); every round's p99 rests on at least 1,000 samples.", thick);
        Assert.Contains("fewest 20 (a0, top20, skewed, 1 client(s)); 1 of 2 cells have fewer than 1,000 per round, so their p99 is indicative only", thin);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_upkeep_lock_target_is_judged_on_the_longest_partition_cluster()
    {
        await Task.Yield();
        var met = BenchReport.Markdown(Result(r =>
        {
            Layouts(r, 6_000, 6_000);
            r.PeerClusterLock = TimeSpan.FromSeconds(40);
            r.PartitionClusterLock = (TimeSpan.FromSeconds(1.5), "cluster todos_active_part_3");
        }), []);
        var missed = BenchReport.Markdown(Result(r =>
        {
            Layouts(r, 6_000, 6_000);
            r.PeerClusterLock = TimeSpan.FromSeconds(40);
            r.PartitionClusterLock = (TimeSpan.FromSeconds(2.5), "cluster todos_active_part_3");
        }), []);

        Assert.Contains("held its whole-table ACCESS EXCLUSIVE lock for 40.00 s", met);
        Assert.Contains("the longest for 1.50 s (cluster todos_active_part_3), 26.7× shorter", met);
        Assert.Contains("**met**: TodoScale's longest lock 1.50 s ≤ 2 s", met);
        Assert.Contains("**not met**: TodoScale's longest lock 2.50 s > 2 s", missed);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void what_our_index_set_in_one_table_recovers_of_the_gap_follows_the_figures_and_never_reads_as_a_negative_share()
    {
        Assert.Contains("recovers 90%", BenchReport.IndexShare(10, 1.9, 1));
        Assert.Contains("recovers only 10%", BenchReport.IndexShare(10, 9.1, 1));
        // (b+) slower than (b), as in the run of 2026-12-02 15:59 (10.8 ms against 15.9 ms): once "-71%".
        var slower = BenchReport.IndexShare(10.8, 15.9, 3.5);
        Assert.Contains("slower than (b)'s", slower);
        Assert.DoesNotContain("%", slower);
        Assert.Contains("not ahead", BenchReport.IndexShare(1, 0.5, 2));
    }

    // Growth cells of the final layout: p50 small 0.200 ms, grown 0.200 × ratio, at 1 client.
    private static BenchResult Growth(double listAsked, double listSame)
    {
        var queries = new[] { QueryKind.ListWithArchive, QueryKind.ListSameAnswer };
        var r = Result(queries: [QueryKind.ListWithArchive]);
        r.Stages.Add(new BenchStage(BenchRunner.StageGrown, "growth", [BenchLayouts.FinalSmall, BenchLayouts.FinalGrown], queries, PairedTurns: true));
        foreach (var (query, ratio) in new[] { (queries[0], listAsked), (queries[1], listSame) })
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                var grownRatio = set == UserSets.Skewed ? ratio : 1.0;
                r.Cells.Add(new CellResult(BenchRunner.StageGrown, BenchLayouts.FinalSmall, query, set, 1, new LatencyStats(3000, 3, 0.2, 1, 2, 1)));
                r.Cells.Add(new CellResult(BenchRunner.StageGrown, BenchLayouts.FinalGrown, query, set, 1, new LatencyStats(3000, 3, 0.2 * grownRatio, 1, 2, 1)));
            }
        }

        r.ArchivePageRows[UserSets.Skewed] = (26.4, 51.0);
        return r;
    }

    private static string ArchiveTarget(BenchResult r)
    {
        var sb = new System.Text.StringBuilder();
        BenchReport.AppendArchiveTarget(sb, r);
        return sb.ToString();
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void the_archive_target_judges_the_list_at_the_same_answer_size_and_names_a_longer_answer_only_when_the_figures_show_one()
    {
        var longerAnswer = ArchiveTarget(Growth(listAsked: 1.35, listSame: 1.05));
        var months = ArchiveTarget(Growth(listAsked: 1.35, listSame: 1.30));

        Assert.Contains("| met; the application's list above 1.2×: skewed 1.35× as the application asks, 1.05× at the same answer size: the longer answer, not the months |", longerAnswer);
        Assert.Contains("its archive page 26.4 → 51.0 rows on average", longerAnswer);
        Assert.Contains("**not met** (list-same skewed)", months);
        Assert.DoesNotContain("not the months", months);
        // What is printed is what was judged: 1.2004 is above 1.2 and says so.
        Assert.Equal(("1.200", "1.19", "1.20"), (BenchReport.Against(1.2004, 1.2), BenchReport.Against(1.19, 1.2), BenchReport.Against(1.2, 1.2)));
    }
}
