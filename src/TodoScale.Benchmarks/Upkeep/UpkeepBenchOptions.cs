namespace TodoScale.Benchmarks;

/// <summary>Options of <c>todoscale bench upkeep</c>.</summary>
public sealed record UpkeepBenchOptions
{
    /// <summary>The database a <c>todoscale bench run --grow-to N</c> left: its grown single table and grown archive.</summary>
    public string DatabaseName { get; init; } = "todoscale_bench_1000000";

    /// <summary>Clients of the application probe: half read, half write (at least one of each).</summary>
    public int ProbeClients { get; init; } = 4;

    /// <summary>How long the probe runs on each layout, unmeasured, before its idle window.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the probe runs on each layout before its upkeep starts: the idle figures.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Upkeep kinds to time, in this order: cluster, reindex, vacuum.</summary>
    public IReadOnlyList<string> Operations { get; init; } = UpkeepBench.AllOperations;

    public string? OutputDirectory { get; init; } = "docs";

    public string CommandLine { get; init; } = "todoscale bench upkeep";

    public int Seed { get; init; } = 42;

    public void Validate()
    {
        if (ProbeClients is < 2 or > 64)
        {
            throw new ArgumentException($"--probe-clients must be between 2 and 64 (got {ProbeClients}).");
        }

        if (Idle <= TimeSpan.Zero || Idle > TimeSpan.FromHours(1))
        {
            throw new ArgumentException($"--idle-seconds must be above 0 and at most 3600 (got {Idle.TotalSeconds}).");
        }

        if (Warmup < TimeSpan.Zero || Warmup > TimeSpan.FromHours(1))
        {
            throw new ArgumentException($"--warmup-seconds must be between 0 and 3600 (got {Warmup.TotalSeconds}).");
        }

        if (Operations.Count == 0 || Operations.Any(o => !UpkeepBench.AllOperations.Contains(o)))
        {
            throw new ArgumentException($"--operations must name some of {string.Join(", ", UpkeepBench.AllOperations)} (got {string.Join(",", Operations)}).");
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(DatabaseName, "^[a-z_][a-z0-9_]{0,62}$"))
        {
            throw new ArgumentException($"Database name '{DatabaseName}' must be lower-case letters, digits and underscores.");
        }
    }
}
