namespace TodoScale.Benchmarks;

/// <summary>Latency distribution and throughput of one scenario cell.</summary>
public sealed record LatencyStats(long Count, double Seconds, double P50Ms, double P95Ms, double P99Ms, double MeanMs)
{
    public double PerSecond => Seconds > 0 ? Count / Seconds : 0;

    /// <summary>The median of each figure over several rounds of the same cell.</summary>
    public static LatencyStats MedianOf(IReadOnlyList<LatencyStats> rounds)
    {
        // Count and seconds keep the median rate: PerSecond of the result is the median of the rounds' rates.
        var rate = Median(rounds.Select(r => r.PerSecond));
        var seconds = rounds.Sum(r => r.Seconds);
        return new LatencyStats((long)Math.Round(rate * seconds), seconds,
            Median(rounds.Select(r => r.P50Ms)), Median(rounds.Select(r => r.P95Ms)), Median(rounds.Select(r => r.P99Ms)), Median(rounds.Select(r => r.MeanMs)));
    }

    /// <summary>The median of the values that are numbers; NaN when there are none.</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    public static LatencyStats From(List<double> latenciesMs, double seconds)
    {
        if (latenciesMs.Count == 0)
        {
            return new LatencyStats(0, seconds, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        latenciesMs.Sort();
        double At(double q) => latenciesMs[Math.Min(latenciesMs.Count - 1, (int)Math.Ceiling(q * latenciesMs.Count) - 1)];
        return new LatencyStats(latenciesMs.Count, seconds, At(0.50), At(0.95), At(0.99), latenciesMs.Average());
    }
}
