using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Database.Cluster;

/// <summary>
/// The built-in primary (<see cref="LocalCluster"/>) plus N streaming standbys on loopback
/// (<c>todoscale db start --replicas N</c>). The primary is today's cluster, unchanged; each standby is a
/// <see cref="LocalStandby"/> in <c>pg-standby-N</c> beside it. Standbys are found by their folders, so
/// <c>db start</c>, <c>db stop</c>, <c>db status</c> and <c>serve</c> see them without any extra option.
/// </summary>
public sealed class LocalReplicaSet(LocalCluster primary)
{
    public LocalCluster Primary { get; } = primary;

    /// <summary>The standbys that exist (have a data folder), in order.</summary>
    public IReadOnlyList<LocalStandby> Standbys
    {
        get
        {
            var parent = Path.GetDirectoryName(Primary.ServerRoot)!;
            if (!Directory.Exists(parent))
            {
                return [];
            }

            return Directory.GetDirectories(parent, LocalStandby.FolderPrefix + "*")
                .Select(d => int.TryParse(Path.GetFileName(d)[LocalStandby.FolderPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : 0)
                .Where(i => i > 0)
                .Order()
                .Select(i => new LocalStandby(Primary, i))
                .Where(s => s.Exists)
                .ToList();
        }
    }

    /// <summary>
    /// Starts the primary, then makes standbys 1..<paramref name="replicas"/> exist and run; standbys created earlier (beyond
    /// that number too) are started as well, so a plain <c>db start</c> after <c>db stop</c> brings the whole set back.
    /// </summary>
    public async Task<IReadOnlyList<LocalStandby>> StartAsync(int replicas, string? database = LocalCluster.DefaultDatabase, CancellationToken ct = default)
    {
        await Primary.StartAsync(database, ct);
        var indexes = Standbys.Select(s => s.Index).Union(Enumerable.Range(1, Math.Max(0, replicas))).Order().ToList();
        if (indexes.Count == 0)
        {
            return [];
        }

        await EnsureReplicationAccessAsync(ct);
        var standbys = indexes.Select(i => new LocalStandby(Primary, i)).ToList();
        foreach (var s in standbys)
        {
            await s.StartAsync(ct);
        }

        return standbys;
    }

    /// <summary>Stops the standbys, then the primary (a standby stopped after its primary would log reconnect errors until then).</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        foreach (var s in Standbys)
        {
            await s.StopAsync(ct);
        }

        await Primary.StopAsync(ct);
    }

    /// <summary>One line per node: role, port, replay position and lag behind the primary.</summary>
    public async Task<IReadOnlyList<NodeStatus>> StatusAsync(CancellationToken ct = default)
    {
        var nodes = new List<NodeStatus>();
        ulong? primaryLsn = null;
        if (await Primary.GetStateAsync(ct) == LocalClusterState.Running)
        {
            var (_, lsn, _) = await ProbeAsync(Primary.ConnectionString("postgres"), ct);
            primaryLsn = lsn;
            nodes.Add(new NodeStatus("primary", "primary", Primary.Port, Primary.Url(), lsn, 0, 0));
        }
        else
        {
            nodes.Add(new NodeStatus("primary", "stopped", Primary.Port, Primary.Url(), null, null, null));
        }

        foreach (var s in Standbys)
        {
            if (await s.GetStateAsync(ct) != LocalClusterState.Running)
            {
                nodes.Add(new NodeStatus(s.Name, "stopped", s.Port, s.Url(), null, null, null));
                continue;
            }

            var (inRecovery, replay, lagSeconds) = await ProbeAsync(s.ConnectionString("postgres"), ct);
            long? lagBytes = primaryLsn is { } p && replay is { } r ? (long)(p > r ? p - r : 0) : null;
            nodes.Add(new NodeStatus(s.Name, inRecovery ? "standby" : "primary (promoted)", s.Port, s.Url(), replay, lagBytes,
                lagBytes == 0 ? 0 : lagSeconds));
        }

        return nodes;
    }

    /// <summary>
    /// The primary's pg_hba.conf allows replication connections from 127.0.0.1 only, with the password (initdb also
    /// writes one for ::1 and a peer rule for the socket; the server listens on 127.0.0.1 alone, and a rule for an address
    /// nobody can connect from is one more rule to audit). Reloads the primary when it changed the file.
    /// </summary>
    private async Task EnsureReplicationAccessAsync(CancellationToken ct)
    {
        var hba = Path.Combine(Primary.DataDirectory, "pg_hba.conf");
        var lines = await File.ReadAllLinesAsync(hba, ct);
        var wanted = $"host    replication     {ProcessRunner.ServerUser}        127.0.0.1/32            {PgHba.HostMethod}";
        var kept = lines.Where(l => !IsReplicationRule(l) || l.Trim() == wanted.Trim()).ToList();
        if (!kept.Any(l => l.Trim() == wanted.Trim()))
        {
            kept.Add(wanted);
        }

        if (kept.SequenceEqual(lines))
        {
            return;
        }

        // In place: the file keeps its owner, the server's user.
        await File.WriteAllLinesAsync(hba, kept, ct);
        await using var conn = new NpgsqlConnection(Primary.ConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", conn);
        await reload.ExecuteNonQueryAsync(ct);
    }

    private static bool IsReplicationRule(string line)
    {
        var fields = line.Split('#', 2)[0].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 3 && fields[0] is "host" or "hostssl" or "hostnossl" or "local" && fields[1] == "replication";
    }

    private static async Task<(bool InRecovery, ulong? Lsn, double? LagSeconds)> ProbeAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 5 }.ConnectionString);
        await conn.OpenAsync(ct);
        // On a standby: its replay position, and how old the last replayed transaction is while it has WAL left to replay.
        await using var cmd = new NpgsqlCommand(
            """
            SELECT pg_is_in_recovery(),
                   CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                   CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END
            """, conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return (r.GetBoolean(0), r.IsDBNull(1) ? null : (ulong)r.GetFieldValue<NpgsqlLogSequenceNumber>(1), r.IsDBNull(2) ? null : r.GetDouble(2));
    }
}

/// <summary>One node of the built-in set as <c>db status</c> shows it; lag is null when it cannot be measured (stopped).</summary>
public sealed record NodeStatus(string Name, string Role, int Port, string Url, ulong? ReplayLsn, long? LagBytes, double? LagSeconds);
