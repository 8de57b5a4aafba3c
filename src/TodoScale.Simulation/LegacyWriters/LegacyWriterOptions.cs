namespace TodoScale.Simulation.LegacyWriters;

/// <summary>What the simulated legacy application does, and for how long.</summary>
public sealed record LegacyWriterOptions
{
    /// <summary>Concurrent connections, each running one statement at a time (like pgbench clients).</summary>
    public int Connections { get; init; } = 4;

    /// <summary>Stop after this long (null: until cancelled or <see cref="MaxOperations"/>).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop after this many statements across all connections (null: no limit).</summary>
    public long? MaxOperations { get; init; }

    /// <summary>Pause between two statements of one connection (zero: as fast as the server allows).</summary>
    public TimeSpan ThinkTime { get; init; } = TimeSpan.Zero;

    /// <summary>Relative weights of the operations.</summary>
    public double InsertWeight { get; init; } = 0.35;
    public double UpdateWeight { get; init; } = 0.30;
    public double CompleteWeight { get; init; } = 0.20;
    public double DeleteWeight { get; init; } = 0.10;

    /// <summary>"Complete all my in-progress todos": one statement locking many rows, the kind that deadlocks.</summary>
    public double BulkCompleteWeight { get; init; } = 0.05;

    public int Seed { get; init; } = 7;
}
