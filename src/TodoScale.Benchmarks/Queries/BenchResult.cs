namespace TodoScale.Benchmarks;

public sealed record MachineInfo(int Cores, long MemoryMb, string PostgresVersion, string SharedBuffers, string Os, string Runtime);

public sealed record DataShape(
    long Rows, long Users, long HeavyUsers, long Done, long ActiveRows, long ArchivedRows, int ArchiveMonths,
    double HeavyUserRowsAvg, double HeavyUserOpenAvg, IReadOnlyDictionary<string, long> TableBytes);

public sealed record StepTiming(string Step, TimeSpan Elapsed, string Detail);

/// <summary>
/// A stage of the query run: its layouts take turns; <paramref name="Queries"/>, when given, replaces the run's queries;
/// <paramref name="PairedTurns"/>: the layouts are two families of twins, ordered by <see cref="TurnOrder.Paired{T}"/>.
/// </summary>
public sealed record BenchStage(string Key, string Title, IReadOnlyList<BenchLayout> Layouts, IReadOnlyList<QueryKind>? Queries = null, bool PairedTurns = false)
{
    public IReadOnlyList<QueryKind> QueriesOf(BenchOptions options) => Queries ?? options.Queries;
}

public sealed record CellResult(string Stage, BenchLayout Layout, QueryKind Query, string UserSet, int Clients, LatencyStats Stats)
{
    /// <summary>Rounds the cell's figures are the median of.</summary>
    public int Rounds { get; init; } = 1;
}

public sealed record PgBenchCell(string Stage, BenchLayout Layout, string UserSet, int Clients, PgBenchResult Result);

public sealed record OperationResult(string Operation, string Subject, TimeSpan Elapsed, long Bytes);

public sealed record AnswerCheck(QueryKind Query, int Users, int Mismatches, string? FirstMismatch);

/// <summary>
/// One cell of the API stage: an endpoint, a user set and a client count, driven by one generator (the database-only
/// run of the endpoint's statements, the C# HTTP client or wrk). Stats are medians over the rounds; Errors counts every
/// answer other than 200 over all rounds (warm-up included), FirstError describes the first of them.
/// </summary>
public sealed record ApiCell(ApiEndpoint Endpoint, string UserSet, int Clients, string Generator, LatencyStats Stats, long Errors, string? FirstError);

/// <summary>The API's answer compared with the answer of the statements the service sends, for a few users.</summary>
public sealed record ApiCheck(ApiEndpoint Endpoint, int Users, int Mismatches, string? FirstMismatch);

public sealed class BenchResult
{
    public required BenchOptions Options { get; init; }
    public required MachineInfo Machine { get; init; }
    public required DateTime StartedUtc { get; init; }
    public DataShape? Data { get; set; }
    public TimeSpan Total { get; set; }
    public string MigrationSource { get; set; } = "";
    public string MaintenanceSource { get; set; } = "";
    public List<BenchStage> Stages { get; } = [];
    public List<StepTiming> Steps { get; } = [];
    public List<CellResult> Cells { get; } = [];
    public List<PgBenchCell> PgBench { get; } = [];
    public List<OperationResult> Operations { get; } = [];
    public List<AnswerCheck> Checks { get; } = [];
    public List<string> Plans { get; } = [];

    public List<ApiCell> ApiCells { get; } = [];
    public List<ApiCheck> ApiChecks { get; } = [];

    /// <summary>What the API stage could not do as asked (wrk absent), said in the report.</summary>
    public List<string> ApiNotes { get; } = [];

    /// <summary>wrk's version line when the API stage ran it.</summary>
    public string? WrkVersion { get; set; }

    /// <summary>Non-200 answers over the whole API stage; any is a failed run.</summary>
    public long ApiErrors => ApiCells.Sum(c => c.Errors);

    /// <summary>Share of the machine's CPU busy over a few seconds just before the run and just after it (other jobs' load), null where /proc cannot say.</summary>
    public double? BackgroundBusyBefore { get; set; }
    public double? BackgroundBusyAfter { get; set; }

    /// <summary>How long the peer's CLUSTER held its whole-table ACCESS EXCLUSIVE lock (its upkeep's longest lock).</summary>
    public TimeSpan? PeerClusterLock { get; set; }

    /// <summary>The longest single partition's CLUSTER in cluster_partitions() (TodoScale's longest upkeep lock) and which partition.</summary>
    public (TimeSpan Duration, string Step)? PartitionClusterLock { get; set; }

    /// <summary>Total rows of the grown single table (b) after history growth; 0 when growth was not measured.</summary>
    public long GrownRows { get; set; }

    /// <summary>
    /// Rows in the first page of the archive (at most the application's page), averaged over each user set's users, in
    /// the original and in the grown history: how much of the list's growth is a longer answer.
    /// </summary>
    public Dictionary<string, (double Small, double Grown)> ArchivePageRows { get; } = [];

    /// <summary>Years of finished history the growth stage added (from --history-years or --grow-to).</summary>
    public int HistoryYears { get; set; }

    public ApiCell? Api(ApiEndpoint endpoint, string users, int clients, string generator) =>
        ApiCells.FirstOrDefault(c => c.Endpoint == endpoint && c.UserSet == users && c.Clients == clients && c.Generator == generator);

    public CellResult? Cell(string stage, string layoutKey, QueryKind query, string users, int clients) =>
        Cells.FirstOrDefault(c => c.Stage == stage && c.Layout.Key == layoutKey && c.Query == query && c.UserSet == users && c.Clients == clients);
}

public static class UserSets
{
    public const string Skewed = "skewed";
    public const string Heavy = "heavy";

    public static string Describe(string set) => set == Heavy
        ? "the heaviest 1% of users"
        : "users drawn in proportion to their todos (the real skew)";
}
