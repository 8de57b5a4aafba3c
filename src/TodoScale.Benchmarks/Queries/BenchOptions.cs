namespace TodoScale.Benchmarks;

/// <summary>What one benchmark run generates and measures.</summary>
public sealed record BenchOptions
{
    /// <summary>Rows of the generated legacy todos table.</summary>
    public int Rows { get; init; } = 1_000_000;

    /// <summary>Users; default one per 50 rows (as LegacyDataOptions).</summary>
    public int? Users { get; init; }

    /// <summary>Measured time per round of a scenario cell (layout x query x users x clients).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Unmeasured time before each round: fills caches and gets prepared statements past their first executions.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(0.15);

    /// <summary>
    /// Rounds per cell, the layouts taking turns within each round; a cell reports the median of its rounds' figures,
    /// so that a burst of load from a neighbour on a shared machine spoils one round, not the figure.
    /// </summary>
    public int Rounds { get; init; } = 3;

    /// <summary>
    /// Rounds per cell of the grown-history stage, whose targets are ratios of 1-client medians within 1.1-1.2x: with 3
    /// rounds, identical work (the top-20, which reads no archive) moved 0.76-1.63x between the small and the grown
    /// history in one run (2026-12-03), more than the targets allow.
    /// </summary>
    public int GrowthRounds { get; init; } = 2 * TurnOrder.PairedCycleLength;

    public IReadOnlyList<int> Clients { get; init; } = [1, 16];

    public IReadOnlyList<QueryKind> Queries { get; init; } = [QueryKind.Top20, QueryKind.Dashboard, QueryKind.ListWithArchive, QueryKind.ArchivedById];

    /// <summary>Measure the HTTP API (list and dashboard endpoints) against the database-only rate of the same statements, on the final layout.</summary>
    public bool Api { get; init; } = true;

    /// <summary>Concurrent HTTP clients of the API stage (and client connections of its database-only runs).</summary>
    public IReadOnlyList<int> ApiClients { get; init; } = [1, 4, 16, 64];

    /// <summary>
    /// Longest the API stage drives its endpoints before measuring, until the JIT has finished compiling the API's hot
    /// code (the stage stops earlier once a slice of load compiles almost nothing).
    /// </summary>
    public TimeSpan ApiWarmup { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Maximum Pool Size of the API's connections: at most this many of its requests run a statement at once, the
    /// others wait in Npgsql's pool queue. Default twice the cores, as a server sized to its database would be
    /// configured; 0 keeps the connection string's (Npgsql: 100).
    /// </summary>
    public int ApiPoolSize { get; init; } = 2 * Environment.ProcessorCount;

    /// <summary>
    /// The wrk program for the API stage: null looks for wrk on PATH (skipped with a note when absent), an empty
    /// string skips wrk.
    /// </summary>
    public string? Wrk { get; init; }

    /// <summary>Run pgbench (-M prepared) on the top-20 query of every layout.</summary>
    public bool PgBench { get; init; } = true;

    /// <summary>Time pg_dump and VACUUM of what each layout must process.</summary>
    public bool Operations { get; init; } = true;

    /// <summary>
    /// After the main stages, add this many years of finished (archived) history to both the archive and the single
    /// table (b), with the same open todos, and measure again: does the active path stay constant? 0 skips it.
    /// </summary>
    public int HistoryYears { get; init; }

    /// <summary>Alternative to <see cref="HistoryYears"/>: add whole years of history until the total reaches this many rows; 0 skips it.</summary>
    public long GrowTo { get; init; }

    public const int MaxHistoryYears = 60;

    /// <summary>Keep the generated legacy data of an earlier run with the same size (the TodoScale tables are rebuilt).</summary>
    public bool Reuse { get; init; }

    /// <summary>Folder for benchmarks.md and the PNG charts; null writes nothing.</summary>
    public string? OutputDirectory { get; init; } = "docs";

    /// <summary>Name of the database the run creates on the server; default todoscale_bench_ROWS.</summary>
    public string? DatabaseName { get; init; }

    /// <summary>The command line, quoted in the report so the run can be repeated.</summary>
    public string CommandLine { get; init; } = "todoscale bench run";

    public int Seed { get; init; } = 42;

    public string EffectiveDatabaseName => DatabaseName ?? $"todoscale_bench_{Rows}";

    public void Validate()
    {
        if (Rows < 1_000)
        {
            throw new ArgumentException("--rows must be at least 1000.");
        }

        if (Users is < 10)
        {
            throw new ArgumentException("--users must be at least 10.");
        }

        if (Duration <= TimeSpan.Zero || Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("--duration must be positive.");
        }

        if (Clients.Count == 0 || Clients.Any(c => c is < 1 or > 128))
        {
            throw new ArgumentException("--clients must list 1 to 128 clients, e.g. 1,16.");
        }

        if (ApiPoolSize is < 0 or > 1024)
        {
            throw new ArgumentException("--api-pool must be between 0 (the connection string's) and 1024 connections.");
        }

        if (ApiWarmup < TimeSpan.Zero)
        {
            throw new ArgumentException("--api-warmup must be 0 or more seconds.");
        }

        if (Api && (ApiClients.Count == 0 || ApiClients.Any(c => c is < 1 or > 128)))
        {
            throw new ArgumentException("--api-clients must list 1 to 128 clients, e.g. 1,4,16,64.");
        }

        if (Rounds is < 1 or > 20)
        {
            throw new ArgumentException("--rounds must be between 1 and 20.");
        }

        if (GrowthRounds is < 1 or > 20)
        {
            throw new ArgumentException("--growth-rounds must be between 1 and 20.");
        }

        if (HistoryYears is < 0 or > MaxHistoryYears)
        {
            throw new ArgumentException($"--history-years must be between 0 and {MaxHistoryYears}.");
        }

        if (GrowTo != 0 && (GrowTo <= Rows || HistoryYears > 0))
        {
            throw new ArgumentException("--grow-to must be more than --rows, and cannot be combined with --history-years.");
        }

        if (Queries.Count == 0)
        {
            throw new ArgumentException("--scenarios must name at least one of top20, dashboard, list, byid.");
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(EffectiveDatabaseName, "^[a-z_][a-z0-9_]{0,62}$"))
        {
            throw new ArgumentException($"Database name '{EffectiveDatabaseName}' must be lower-case letters, digits and underscores.");
        }
    }
}
