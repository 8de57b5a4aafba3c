namespace TodoScale.Simulation.LegacyData;

/// <summary>Shape of a generated legacy todos table: skewed users, months of history, mostly done.</summary>
public sealed record LegacyDataOptions
{
    public int Rows { get; init; } = 200_000;

    /// <summary>Number of users; by default one per 50 rows (100k users for 5M rows).</summary>
    public int? Users { get; init; }

    /// <summary>The share of users who are heavy users, and the share of all todos they own.</summary>
    public double HeavyUserFraction { get; init; } = 0.01;
    public double HeavyUserShareOfRows { get; init; } = 0.35;

    /// <summary>How far back created_at reaches.</summary>
    public int MonthsOfHistory { get; init; } = 12;

    public double DoneFraction { get; init; } = 0.55;

    public int Seed { get; init; } = 42;

    public int UserCount => Users ?? Math.Max(10, Rows / 50);
}
