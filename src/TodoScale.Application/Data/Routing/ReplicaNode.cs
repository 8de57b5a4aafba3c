using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// One standby the API may read from: its own Npgsql pool and pooled EF contexts (a context is bound to one data
/// source), and what the <see cref="ReplicaMonitor"/> last saw of it. The state is replaced as one immutable
/// snapshot, so a request never sees a replay position from one poll and a health flag from another.
/// </summary>
public sealed class ReplicaNode : IAsyncDisposable
{
    private readonly PooledDbContextFactory<TodoDbContext> _contexts;
    private volatile ReplicaState _state = ReplicaState.Unknown;

    public ReplicaNode(string host, int port, string connectionString)
    {
        Host = host;
        Port = port;
        DataSource = NpgsqlDataSource.Create(connectionString);
        _contexts = new PooledDbContextFactory<TodoDbContext>(
            new DbContextOptionsBuilder<TodoDbContext>().UseTodoScale(DataSource).Options);
    }

    public string Host { get; }
    public int Port { get; }
    public string Name => $"{Host}:{Port}";
    public NpgsqlDataSource DataSource { get; }
    public ReplicaState State => _state;

    /// <summary>A pooled context on this standby; disposing it returns it to the pool.</summary>
    public TodoDbContext CreateContext() => _contexts.CreateDbContext();

    internal void Update(ReplicaState state) => _state = state;

    /// <summary>
    /// A read on this node failed to connect or was cut off: no more reads until the next successful poll says it is
    /// back, so the requests after this one do not each pay a failed connection attempt first.
    /// </summary>
    public void MarkDown(string reason) => _state = _state with { Reachable = false, Error = reason, CheckedAt = DateTimeOffset.UtcNow };

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>What one poll saw of a standby. <see cref="LagSeconds"/> is how long ago the primary was first seen past this standby's replay position.</summary>
public sealed record ReplicaState(
    bool Reachable,
    bool InRecovery,
    ulong ReplayLsn,
    bool ReplayPaused,
    long LagBytes,
    double LagSeconds,
    string? Error,
    DateTimeOffset CheckedAt)
{
    public static readonly ReplicaState Unknown = new(false, false, 0, false, 0, double.PositiveInfinity, "not checked yet", DateTimeOffset.MinValue);

    /// <summary>Reads may go here: reachable, still a standby (a promoted one is a primary: not ours to read from), lag within the bound.</summary>
    public bool Serves(TimeSpan maxLag) => Reachable && InRecovery && LagSeconds <= maxLag.TotalSeconds;
}
