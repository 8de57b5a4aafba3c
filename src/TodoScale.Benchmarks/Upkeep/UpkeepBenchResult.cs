namespace TodoScale.Benchmarks;

/// <summary>One upkeep statement: on the single table the whole table, on TodoScale one partition.</summary>
public sealed record UpkeepStatement(string Target, TimeSpan Duration);

/// <summary>
/// One kind of upkeep on one layout: its statements and what the application probe saw while they ran, against the
/// same probe's idle window just before.
/// </summary>
public sealed record UpkeepRun(string Operation, string Layout, IReadOnlyList<UpkeepStatement> Statements, TimeSpan Total,
    LatencyStats IdleReads, LatencyStats IdleWrites, LatencyStats Reads, LatencyStats Writes, double MaxReadMs, double MaxWriteMs)
{
    /// <summary>The longest statement: how long its lock was held (and waited for).</summary>
    public UpkeepStatement Longest => Statements.MaxBy(s => s.Duration)!;
}

public sealed class UpkeepBenchResult
{
    public required UpkeepBenchOptions Options { get; init; }

    public required MachineInfo Machine { get; init; }

    public DateTime StartedUtc { get; init; }

    public TimeSpan Total { get; set; }

    /// <summary>Rows of each layout (the single table; todos_active plus todos_archived), the same before and after.</summary>
    public long SingleRows { get; set; }

    public long TodoScaleRows { get; set; }

    public int ArchiveMonths { get; set; }

    public int ActivePartitions { get; set; }

    /// <summary>Partitions of todos_archived_recent (009): each user's newest archived rows, kept up like the others.</summary>
    public int RecentPartitions { get; set; }

    /// <summary>Rows of each layout after the upkeep: any difference is a loss the run reports as a failure.</summary>
    public long SingleRowsAfter { get; set; }

    public long TodoScaleRowsAfter { get; set; }

    public List<UpkeepRun> Runs { get; } = [];

    public List<string> ProbeErrors { get; } = [];

    public bool RowsKept => SingleRows == SingleRowsAfter && TodoScaleRows == TodoScaleRowsAfter;
}
