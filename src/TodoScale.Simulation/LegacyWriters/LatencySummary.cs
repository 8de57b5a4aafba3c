namespace TodoScale.Simulation.LegacyWriters;

/// <summary>Percentiles of statement latencies in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P95Ms, double P99Ms, double MaxMs)
{
    public static LatencySummary From(IReadOnlyList<double> ms)
    {
        if (ms.Count == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0);
        }

        var sorted = ms.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new LatencySummary(sorted.Length, P(0.50), P(0.95), P(0.99), sorted[^1]);
    }
}
