namespace TodoScale.Benchmarks;

/// <summary>How one migration measurement runs: the fixed baseline, the engine's target, the simulated application's writers, the legacy index.</summary>
public sealed record MigrationMeasurementOptions
{
    /// <summary>Rows per batch of the fixed baseline (today's `migrate run --batch-size`).</summary>
    public int BatchSize { get; init; } = 5_000;

    /// <summary>The batch engine's target duration for the adaptive runs.</summary>
    public TimeSpan Target { get; init; } = TimeSpan.FromMilliseconds(200);

    public int WriterConnections { get; init; } = 4;

    /// <summary>Pause between two statements of one simulated application connection (a busy app, not a load test).</summary>
    public TimeSpan WriterThinkTime { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How long the writers run alone first, for their latency without a migration.</summary>
    public TimeSpan WriterBaselineDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Create the index on todos(parent_todo_id) that migration_preflight() recommends before anything is measured:
    /// without it every legacy DELETE scans the whole table for subtasks to cascade to.
    /// </summary>
    public bool LegacyParentIndex { get; init; }

    /// <summary>The held-rows run: how long an application transaction holds a user the copy needs (zero: no such run).</summary>
    public TimeSpan HoldFor { get; init; } = TimeSpan.FromSeconds(5);
}
