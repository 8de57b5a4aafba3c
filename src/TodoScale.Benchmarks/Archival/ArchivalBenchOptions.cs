using System.Text.RegularExpressions;

namespace TodoScale.Benchmarks;

/// <summary>What `todoscale bench archival` generates and measures.</summary>
public sealed record ArchivalBenchOptions
{
    /// <summary>Done todos completed 40-70 days ago: what archival moves.</summary>
    public long DoneRows { get; init; } = 1_000_000;

    /// <summary>Open todos (todo, in_progress): they stay, and the probe lists them.</summary>
    public long OpenRows { get; init; } = 200_000;

    /// <summary>Done todos completed 1-29 days ago: they must stay too (the cutoff is respected).</summary>
    public long RecentRows { get; init; } = 10_000;

    public int Users { get; init; } = 10_000;
    public int BatchSize { get; init; } = 5_000;

    /// <summary>Requests per second of the open-loop probe (--closed-loop adds a separate closed-loop pass).</summary>
    public double ProbeRate { get; init; } = 200;
    public int ProbeConnections { get; init; } = 4;
    public TimeSpan ProbeWarmup { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan After { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Each variant runs once per round, on a fresh copy; figures are medians over the rounds.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Also run every variant once more with a closed-loop probe of one client (the hand measurement's method).</summary>
    public bool ClosedLoop { get; init; }

    public IReadOnlyList<string> Variants { get; init; } = ArchivalVariants.DefaultKeys;

    /// <summary>The pause after each batch's commit of the throttled variant.</summary>
    public TimeSpan Throttle { get; init; } = ArchivalVariants.DefaultThrottle;

    /// <summary>Reuse the template of an earlier run with the same data options (filled less than a week ago).</summary>
    public bool Reuse { get; init; }

    /// <summary>Share of all todos owned by the heaviest 1% of users.</summary>
    public double HeavyShare { get; init; } = 0.35;

    public double Seed { get; init; } = 0.42;
    public string DatabaseName { get; init; } = "todoscale_bench_archival";
    public string CommandLine { get; init; } = "todoscale bench archival";

    public void Validate()
    {
        if (DoneRows < 100 || DoneRows > 100_000_000)
        {
            throw new ArgumentException($"--done-rows must be between 100 and 100000000 (got {DoneRows}).");
        }

        if (OpenRows < 0 || OpenRows > 100_000_000 || RecentRows < 0 || RecentRows > 100_000_000)
        {
            throw new ArgumentException("--open-rows and --recent-rows must be between 0 and 100000000.");
        }

        if (Users is < 1 or > 10_000_000)
        {
            throw new ArgumentException($"--users must be between 1 and 10000000 (got {Users}).");
        }

        if (BatchSize is < 1 or > 1_000_000)
        {
            throw new ArgumentException($"--batch-size must be between 1 and 1000000 (got {BatchSize}).");
        }

        if (!(ProbeRate is > 0 and <= 20_000) || ProbeConnections is < 1 or > 64)
        {
            throw new ArgumentException($"--probe-rate must be above 0 and at most 20000 per second, --probe-connections 1..64 (got {ProbeRate}, {ProbeConnections}).");
        }

        if (ProbeWarmup < TimeSpan.Zero || Idle <= TimeSpan.Zero || After < TimeSpan.Zero)
        {
            throw new ArgumentException("--idle-seconds must be above 0; --warmup-seconds and --after-seconds 0 or more.");
        }

        if (Rounds is < 1 or > 20)
        {
            throw new ArgumentException($"--rounds must be between 1 and 20 (got {Rounds}).");
        }

        if (HeavyShare is < 0 or > 1)
        {
            throw new ArgumentException($"the heavy users' share must be between 0 and 1 (got {HeavyShare}).");
        }

        if (Throttle < TimeSpan.Zero || Throttle > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"--throttle-ms must be between 0 and 10000 (got {Throttle.TotalMilliseconds}).");
        }

        if (Variants.Count == 0)
        {
            throw new ArgumentException($"--variants needs at least one of {string.Join(", ", ArchivalVariants.AllKeys)}.");
        }

        foreach (var key in Variants)
        {
            _ = ArchivalVariants.Get(key);
        }

        if (!Regex.IsMatch(DatabaseName, "^[a-z_][a-z0-9_]{0,40}$"))
        {
            throw new ArgumentException($"--bench-database '{DatabaseName}' must be lower-case letters, digits and underscores (at most 41).");
        }
    }
}
