using System.Diagnostics;

namespace TodoScale.Benchmarks;

/// <summary>What the clients of one closed-loop run measured, and every request that failed.</summary>
public sealed record ClosedLoopResult(LatencyStats Stats, long Errors, string? FirstError);

/// <summary>
/// The closed loop of both load drivers (<see cref="LoadDriver"/> against the database, <see cref="HttpLoadDriver"/> against
/// the API): each client sends its next request as soon as the previous one answered, drawing the user for each from the
/// given set; the latency is measured on the client, end to end. The drivers differ only in what one request is.
/// </summary>
internal static class ClosedLoop
{
    /// <summary>
    /// One request of client <c>c</c> for a user: returns null when it succeeded, else a description of the failure
    /// (counted, not thrown; an exception ends the run).
    /// </summary>
    public delegate Task<string?> Request(int client, Guid user, CancellationToken ct);

    public static async Task<ClosedLoopResult> RunAsync(
        int clients, IReadOnlyList<Guid> users, TimeSpan warmup, TimeSpan duration, int seed, Request request, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var stopAt = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(
            () => ClientLoopAsync(i, users, measureFrom, stopAt, seed + i, request, ct), ct)));
        var all = new List<double>(perClient.Sum(r => r.Latencies.Count));
        foreach (var r in perClient)
        {
            all.AddRange(r.Latencies);
        }

        return new ClosedLoopResult(LatencyStats.From(all, duration.TotalSeconds), perClient.Sum(r => r.Errors),
            perClient.Select(r => r.FirstError).FirstOrDefault(e => e is not null));
    }

    private static async Task<(List<double> Latencies, long Errors, string? FirstError)> ClientLoopAsync(
        int client, IReadOnlyList<Guid> users, long measureFrom, long stopAt, int seed, Request request, CancellationToken ct)
    {
        // Two sequences of users: the warm-up's, then the measured one, which starts afresh when the window opens. Runs
        // given the same seed then measure the same users in the same order however many warm-up calls each made, so
        // that two layouts measured in one round are compared on the same requests (paired), not on two random draws
        // of a skewed population whose heavy users alone move a 1-client p50 by more than the 10-20% targets.
        var warmupRandom = new Random(unchecked(seed * 31 + 17));
        var random = new Random(seed);
        var latencies = new List<double>(4096);
        long errors = 0;
        string? firstError = null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var t0 = Stopwatch.GetTimestamp();
            var user = users[(t0 >= measureFrom ? random : warmupRandom).Next(users.Count)];
            // On a loaded machine one slow warm-up call can outlast the whole window: each client still measures
            // at least one call, or a cell would have no figure at all.
            if (t0 >= stopAt && latencies.Count > 0)
            {
                break;
            }

            var error = await request(client, user, ct);
            var t1 = Stopwatch.GetTimestamp();
            if (error is not null)
            {
                // Every failure counts, warm-up included: a run that met any fails as a whole.
                errors++;
                firstError ??= error;
            }

            // Every call started in the window counts, including one that ends after it: dropping the slow
            // calls that straddle the end would bias the tail percentiles down.
            if (t0 >= measureFrom)
            {
                latencies.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
            }
        }

        return (latencies, errors, firstError);
    }
}
