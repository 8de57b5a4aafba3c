using Npgsql;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// The primary and the standbys of one API instance, and the routing rule for reads:
/// <list type="bullet">
/// <item>a standby serves reads only while it is reachable, in recovery and within <see cref="ReadReplicaOptions.MaxLag"/>;</item>
/// <item>a user with a read fence (their last write's LSN, <see cref="ReadFences"/>) is served only by a standby whose last
/// seen replay position has reached it, else by the primary (read-your-writes);</item>
/// <item>among the standbys that qualify, round robin.</item>
/// </list>
/// The replay positions come from the monitor's last poll. They only grow, so an older value is a conservative one:
/// it can send a user to the primary who could have read from the standby, never to a standby that lacks their write.
/// </summary>
public sealed class ReplicaSet : IAsyncDisposable
{
    private int _next;

    public ReplicaSet(NpgsqlDataSource primary, IReadOnlyList<ReplicaNode> standbys, ReadReplicaOptions options)
    {
        Primary = primary;
        Standbys = standbys;
        Options = options;
    }

    public NpgsqlDataSource Primary { get; }
    public IReadOnlyList<ReplicaNode> Standbys { get; }
    public ReadReplicaOptions Options { get; }

    /// <summary>True when any standby is configured: only then do writes record fences and reads look them up.</summary>
    public bool HasStandbys => Standbys.Count > 0;

    /// <summary>True when some standby may serve reads now (lets a read skip the fence lookup when none can).</summary>
    public bool AnyServing => Standbys.Any(s => s.State.Serves(Options.MaxLag));

    /// <summary>The standby to read from, or null for the primary. <paramref name="fence"/>: the user's last write, null when none is recorded.</summary>
    public ReplicaNode? ChooseForRead(ulong? fence, ReplicaNode? except = null)
    {
        var count = Standbys.Count;
        if (count == 0)
        {
            return null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        for (var i = 0; i < count; i++)
        {
            var node = Standbys[(start + i) % count];
            var state = node.State;
            if (node != except && state.Serves(Options.MaxLag) && (fence is null || state.ReplayLsn >= fence.Value))
            {
                return node;
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in Standbys)
        {
            await s.DisposeAsync();
        }
    }
}
