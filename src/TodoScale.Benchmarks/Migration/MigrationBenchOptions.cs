namespace TodoScale.Benchmarks;

/// <summary>What `todoscale bench migration` generates and measures.</summary>
public sealed record MigrationBenchOptions
{
    public int Rows { get; init; } = 1_000_000;
    /// <summary>Rows per batch of the fixed baseline (today's settings).</summary>
    public int BatchSize { get; init; } = 5_000;

    /// <summary>The batch engine's target duration for the adaptive runs.</summary>
    public TimeSpan Target { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long the application holds a user in the held-rows run (zero: no such run).</summary>
    public TimeSpan HoldFor { get; init; } = TimeSpan.FromSeconds(5);
    public int Writers { get; init; } = 4;
    public TimeSpan ThinkTime { get; init; } = TimeSpan.FromMilliseconds(5);
    public TimeSpan WritersAlone { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Also measure the legacy table with the index on todos(parent_todo_id) that migration_preflight() advises.</summary>
    public bool CompareParentIndex { get; init; } = true;

    /// <summary>Measure only the variant with that index.</summary>
    public bool OnlyParentIndex { get; init; }

    public string DatabaseName { get; init; } = "todoscale_bench_migration";
    public string CommandLine { get; init; } = "todoscale bench migration";

    public void Validate()
    {
        if (Rows < 1_000)
        {
            throw new ArgumentException("--rows must be at least 1000.");
        }

        if (BatchSize is < 1 or > 1_000_000 || Writers is < 0 or > 64 || ThinkTime < TimeSpan.Zero || WritersAlone <= TimeSpan.Zero
            || Target < TimeSpan.FromMilliseconds(10) || Target > TimeSpan.FromMinutes(1) || HoldFor < TimeSpan.Zero || HoldFor > TimeSpan.FromHours(1))
        {
            throw new ArgumentException("--batch-size must be 1..1000000, --writers 0..64, --think-ms >= 0, --writers-alone > 0, --target-ms 10..60000, --hold-seconds 0..3600.");
        }

        if (OnlyParentIndex && !CompareParentIndex)
        {
            throw new ArgumentException("--only-index-variant and --no-index-variant leave nothing to measure; give one of them.");
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(DatabaseName, "^[a-z_][a-z0-9_]{0,50}$"))
        {
            throw new ArgumentException($"Database name '{DatabaseName}' must be lower-case letters, digits and underscores (at most 51).");
        }
    }
}
