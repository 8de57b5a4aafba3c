using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// Polls the primary's WAL position and each standby's replay position every <see cref="ReadReplicaOptions.PollInterval"/>,
/// once per API instance (not per request: a read pays nothing for it).
/// <para>
/// Lag in seconds is measured against the primary, not with <c>now() - pg_last_xact_replay_timestamp()</c>: that grows
/// on an idle system where the standby is fully caught up, and would take every standby of a quiet database out of
/// service. Here a standby's lag is the age of the oldest primary position it has not replayed yet: 0 when it has
/// replayed everything the primary had at the last poll, and growing by wall-clock time while replay is stuck
/// (paused, a conflict, a slow disk) and the primary moves on.
/// </para>
/// </summary>
public sealed class ReplicaMonitor(ReplicaSet set, TimeProvider? clock = null)
{
    public const string PrimarySql = "SELECT pg_current_wal_lsn()";
    public const string StandbySql = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END";

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Queue<(DateTimeOffset At, ulong Lsn)> _primaryHistory = new();

    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(set.Options.PollInterval, _clock);
        do
        {
            await PollOnceAsync(ct);
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    public async Task PollOnceAsync(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        var primaryLsn = await PrimaryLsnAsync(ct);
        if (primaryLsn is { } p)
        {
            _primaryHistory.Enqueue((now, p));
            // Enough history to measure lag up to several times the bound; older samples can only say "very late".
            var keep = TimeSpan.FromTicks(Math.Max(set.Options.MaxLag.Ticks * 4, TimeSpan.FromSeconds(60).Ticks));
            while (_primaryHistory.Count > 1 && now - _primaryHistory.Peek().At > keep)
            {
                _primaryHistory.Dequeue();
            }
        }

        await Task.WhenAll(set.Standbys.Select(s => PollStandbyAsync(s, now, primaryLsn, ct)));
    }

    private async Task<ulong?> PrimaryLsnAsync(CancellationToken ct)
    {
        try
        {
            await using var cmd = set.Primary.CreateCommand(PrimarySql);
            return (ulong)(NpgsqlLogSequenceNumber)(await cmd.ExecuteScalarAsync(ct))!;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            // Without the primary no lag can be measured: standbys keep their last state (reads may go on from them).
            return null;
        }
    }

    private async Task PollStandbyAsync(ReplicaNode node, DateTimeOffset now, ulong? primaryLsn, CancellationToken ct)
    {
        try
        {
            await using var conn = await node.DataSource.OpenConnectionAsync(ct);
            await using var cmd = new NpgsqlCommand(StandbySql, conn) { CommandTimeout = 5 };
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            var inRecovery = r.GetBoolean(0);
            var replay = r.IsDBNull(1) ? 0UL : (ulong)r.GetFieldValue<NpgsqlLogSequenceNumber>(1);
            var paused = r.GetBoolean(2);
            var previous = node.State;
            var lagBytes = primaryLsn is { } p && p > replay ? (long)(p - replay) : 0;
            var lagSeconds = primaryLsn is null && previous.Reachable ? previous.LagSeconds : LagSeconds(replay, now);
            node.Update(new ReplicaState(true, inRecovery, replay, paused, lagBytes, lagSeconds, null, now));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // Down, restarting (57P03 "the database system is starting up") or refusing: no reads until a poll succeeds.
            node.Update(node.State with { Reachable = false, Error = e.Message, CheckedAt = now });
        }
    }

    /// <summary>The age of the oldest primary position this standby has not replayed; 0 when it has replayed all of them.</summary>
    private double LagSeconds(ulong replay, DateTimeOffset now)
    {
        foreach (var (at, lsn) in _primaryHistory)
        {
            if (lsn > replay)
            {
                return Math.Max(0, (now - at).TotalSeconds);
            }
        }

        return 0;
    }
}
