using System.Text.RegularExpressions;

namespace TodoScale.Benchmarks;

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
