using System.Collections.Concurrent;
using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

/// <summary>
/// The closed loop that both load drivers share. Layouts measured in one round are compared on the same requests: given
/// the same seed, two runs measure the same users in the same order, whatever number of warm-up calls each made first.
/// </summary>
public sealed class ClosedLoopTests
{
    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task runs_with_one_seed_measure_the_same_users_in_the_same_order_after_warm_ups_of_different_lengths()
    {
        var users = Enumerable.Range(0, 1_000).Select(_ => Guid.NewGuid()).ToArray();

        var (shortWarmup, shortMeasured) = await RunAsync(users, TimeSpan.FromMilliseconds(20), seed: 42);
        var (longWarmup, longMeasured) = await RunAsync(users, TimeSpan.FromMilliseconds(120), seed: 42);
        var (_, otherSeed) = await RunAsync(users, TimeSpan.FromMilliseconds(20), seed: 43);

        // Different warm-ups, or the test would pass with one shared sequence too.
        Assert.True(longWarmup > shortWarmup + 10, $"warm-up calls {shortWarmup} and {longWarmup}");
        var n = Math.Min(shortMeasured.Count, longMeasured.Count);
        Assert.True(n >= 20, $"only {n} measured calls");
        Assert.Equal(shortMeasured.Take(n), longMeasured.Take(n));
        Assert.NotEqual(shortMeasured.Take(20), otherSeed.Take(20));
    }

    // One client; each call only yields (a 1 ms Task.Delay let a loaded CI server fit just 17 calls into the 100 ms
    // measured, failing the test for want of samples rather than for the order); returns how many calls the warm-up made and the users of the measured calls in order
    // (the measured calls are the last ones, as many as the run counted).
    private static async Task<(int Warmup, List<Guid> Measured)> RunAsync(Guid[] users, TimeSpan warmup, int seed)
    {
        var calls = new ConcurrentQueue<Guid>();
        var result = await ClosedLoop.RunAsync(1, users, warmup, TimeSpan.FromMilliseconds(100), seed, async (_, user, ct) =>
        {
            calls.Enqueue(user);
            await Task.Yield();
            return null;
        }, CancellationToken.None);
        var all = calls.ToList();
        var measured = (int)result.Stats.Count;
        return (all.Count - measured, all.Skip(all.Count - measured).ToList());
    }
}
