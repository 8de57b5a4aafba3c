using System.CommandLine;
using System.Globalization;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;

namespace TodoScale.Cli.Commands;

/// <summary>
/// The read-replica parts of <c>todoscale db</c>: <c>start --replicas N</c>, the node table of <c>status</c>,
/// <c>url --all</c>, and stopping the standbys with the primary. Kept apart from DbCommands so that the Citus workers
/// (<c>--workers</c>) and the standbys each keep their own file.
/// </summary>
internal static class DbReplicaCommands
{
    /// <summary>On one machine each standby is another full copy of the data and another server process competing for the same cores.</summary>
    public const int MaxReplicas = 8;

    public static Option<int> ReplicasOption() => new Option<int>("--replicas")
    {
        Description = "Also run N streaming standbys of the built-in PostgreSQL on 127.0.0.1 (pg_basebackup -R, physical replication slots, " +
                      ".todoscale/pg-standby-N); `serve` then reads from them. Cannot be combined with --workers (Citus): one or the other.",
        DefaultValueFactory = _ => 0,
    }.Between(0, MaxReplicas);

    public static Option<bool> AllOption() => new("--all")
    {
        Description = "Print one connection URL per node of the built-in PostgreSQL (primary and standbys), each after its role.",
    };

    /// <summary>Standbys of a Citus coordinator are not built in: the two scale-out paths are separate (README, "Scaling out").</summary>
    public static void RefuseOnCitus(int replicas)
    {
        if (replicas > 0)
        {
            throw new ArgumentException("--replicas and --workers cannot be combined: this built-in PostgreSQL is a Citus coordinator with workers; " +
                                        "streaming standbys are built in for a single server only.");
        }
    }

    /// <summary>Starts the primary and the standbys (those asked for and those created before); prints each standby.</summary>
    public static async Task StartAsync(LocalCluster cluster, int replicas, CancellationToken ct)
    {
        var standbys = await new LocalReplicaSet(cluster).StartAsync(replicas, ct: ct);
        foreach (var s in standbys)
        {
            Ui.Info($"{s.Name} streaming from the primary on 127.0.0.1:{s.Port} (slot {s.SlotName}, data {s.Folder})");
        }
    }

    public static Task StopAsync(LocalCluster cluster, CancellationToken ct) => new LocalReplicaSet(cluster).StopAsync(ct);

    /// <summary>The node table of <c>db status</c>, when the built-in server has standbys.</summary>
    public static async Task PrintStatusAsync(LocalCluster cluster, CancellationToken ct)
    {
        var set = new LocalReplicaSet(cluster);
        if (set.Standbys.Count == 0)
        {
            return;
        }

        var nodes = await set.StatusAsync(ct);
        Ui.Table(["node", "role", "port", "replay lsn", "lag bytes", "lag s"], nodes.Select(n => (IReadOnlyList<string>)
        [
            n.Name, n.Role, n.Port.ToString(CultureInfo.InvariantCulture),
            n.ReplayLsn is { } l ? new NpgsqlTypes.NpgsqlLogSequenceNumber(l).ToString() : "-",
            n.LagBytes?.ToString(CultureInfo.InvariantCulture) ?? "-",
            n.LagSeconds?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-",
        ]));
    }

    /// <summary><c>db url --all</c>: "ROLE URL" per node, primary first.</summary>
    public static async Task PrintUrlsAsync(LocalCluster cluster, CancellationToken ct)
    {
        foreach (var n in await new LocalReplicaSet(cluster).StatusAsync(ct))
        {
            Console.WriteLine($"{(n.Name == "primary" ? "primary" : n.Role == "standby" ? "standby" : n.Role.Replace(' ', '-'))} {n.Url}");
        }
    }

    /// <summary>The running standbys of the built-in server as Npgsql hosts (127.0.0.1:PORT,...), or null when it has none.</summary>
    public static async Task<string?> BuiltInStandbyHostsAsync(LocalCluster cluster, CancellationToken ct)
    {
        var hosts = new List<string>();
        foreach (var s in new LocalReplicaSet(cluster).Standbys)
        {
            if (await s.GetStateAsync(ct) == LocalClusterState.Running)
            {
                hosts.Add($"127.0.0.1:{s.Port}");
            }
        }

        return hosts.Count == 0 ? null : string.Join(',', hosts);
    }
}
