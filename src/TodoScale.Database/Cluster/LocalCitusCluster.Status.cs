using Npgsql;

namespace TodoScale.Database.Cluster;

/// <summary>
/// One node as `db status` shows it. <see cref="Name"/> is coordinator, worker-N (a local folder) or external (a worker
/// registered with add-worker --host/--port). <see cref="Registered"/> and <see cref="Shards"/> are null when the
/// coordinator's database cannot be asked (stopped, or no Citus database yet).
/// </summary>
public sealed record CitusNodeStatus(
    string Name, CitusNodeRole Role, string Host, int Port, string State, bool? Registered, long? Shards, string? Folder);

public sealed partial class LocalCitusCluster
{
    /// <summary>Every local node's state, and from the coordinator's <paramref name="database"/> what pg_dist_node and citus_shards say.</summary>
    public async Task<IReadOnlyList<CitusNodeStatus>> GetStatusAsync(string database = LocalCluster.DefaultDatabase, CancellationToken ct = default)
    {
        var local = new List<(CitusNode Node, LocalClusterState State)>();
        foreach (var node in Nodes)
        {
            local.Add((node, await node.Cluster.GetStateAsync(ct)));
        }

        var registered = local[0].State == LocalClusterState.Running ? await ReadRegisteredNodesAsync(database, ct) : null;
        var rows = local.Select(l =>
        {
            var entry = registered?.FirstOrDefault(r => r.Host == LoopbackHost && r.Port == l.Node.Cluster.Port);
            return new CitusNodeStatus(l.Node.Name, l.Node.Role, LoopbackHost, l.Node.Cluster.Port, l.State.ToString().ToLowerInvariant(),
                registered is null ? null : entry is not null, entry?.Shards ?? (registered is null ? null : 0), l.Node.Cluster.ServerRoot);
        }).ToList();

        foreach (var external in registered ?? [])
        {
            if (!rows.Any(r => r.Host == external.Host && r.Port == external.Port))
            {
                rows.Add(new CitusNodeStatus("external", external.IsCoordinator ? CitusNodeRole.Coordinator : CitusNodeRole.Worker,
                    external.Host, external.Port, external.Active ? "registered" : "inactive", true, external.Shards, null));
            }
        }

        return rows;
    }

    private sealed record RegisteredNode(string Host, int Port, bool IsCoordinator, bool Active, long Shards);

    private async Task<List<RegisteredNode>?> ReadRegisteredNodesAsync(string database, CancellationToken ct)
    {
        try
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Coordinator.ConnectionString(database)) { Pooling = false }.ConnectionString);
            await conn.OpenAsync(ct);
            // Shard placements per node, reference tables' copies included: what a rebalance evens out.
            await using var cmd = new NpgsqlCommand("""
                SELECT n.nodename, n.nodeport, n.groupid = 0, n.isactive,
                       (SELECT count(*) FROM citus_shards s WHERE s.nodename = n.nodename AND s.nodeport = n.nodeport)
                FROM pg_dist_node n
                WHERE n.noderole = 'primary'
                ORDER BY n.groupid
                """, conn);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var nodes = new List<RegisteredNode>();
            while (await reader.ReadAsync(ct))
            {
                nodes.Add(new RegisteredNode(reader.GetString(0), reader.GetInt32(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetInt64(4)));
            }

            return nodes;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedFunction)
        {
            // No such database yet, or one without the citus extension: the nodes' states are still worth showing.
            return null;
        }
    }
}
