using Npgsql;
using TodoScale.Database.Files;

namespace TodoScale.Database.Cluster;

/// <summary>How the nodes find and trust each other: settings, node-to-node passwords, registration in pg_dist_node.</summary>
public sealed partial class LocalCitusCluster
{
    public const string LoopbackHost = "127.0.0.1";

    /// <summary>
    /// In each node's server folder, mode 0600, owned by the server's user, named by PGPASSFILE in the server's
    /// environment: Citus connects from node to node with libpq (queries, citus_add_node, the rebalancer, the
    /// logical replication of a shard move), and libpq reads the other nodes' passwords from it. Citus's own
    /// citus.node_conninfo does not accept passfile=. The file grants nothing new: it holds the superuser's passwords
    /// of these nodes only, for loopback only, and only the server's user (already their superuser) can read it;
    /// postgres_fdw and dblink refuse non-superusers a password they did not give themselves. pg_hba stays
    /// scram-sha-256 for every TCP connection, the nodes' own included (no trust for 127.0.0.1, which any local user can reach).
    /// </summary>
    public const string ServerPasswordFileName = "citus-pgpass";

    // Attempts of one worker's registration when the coordinator's connection to it fails.
    private const int RegisterAttempts = 4;

    private static string ServerPasswordFile(LocalCluster node) => Path.Combine(node.ServerRoot, ServerPasswordFileName);

    /// <summary>
    /// Every node's file lists every node at its current port with the one password they share (ports can change
    /// between starts, so it is rewritten after each; a line per port, so a node never offers it to another server).
    /// </summary>
    private static async Task WriteServerPasswordFilesAsync(IReadOnlyList<CitusNode> nodes, CancellationToken ct)
    {
        var password = ReadPassword(nodes[0].Cluster);
        var lines = string.Concat(nodes.SelectMany(n =>
            new[] { LoopbackHost, "localhost" }.Select(host => $"{host}:{n.Cluster.Port}:*:{ProcessRunner.ServerUser}:{password}\n")));
        foreach (var node in nodes)
        {
            var path = ServerPasswordFile(node.Cluster);
            OwnerOnlyFile.Write(path, lines);
            if (ProcessRunner.RunningAsRoot)
            {
                // libpq in the server reads it as the server's user, and ignores a file that group or others can read
                // (OwnerOnlyFile made it 0600).
                await ProcessRunner.RunCheckedAsync("chown", [$"{ProcessRunner.ServerUser}:", path], asServerUser: false, ct);
            }
        }
    }

    /// <summary>
    /// Gives a worker the coordinator's password, on the server and in the worker's password file. Citus copies the
    /// coordinator's roles, passwords included, to every worker it registers: a worker keeping the password of its
    /// own initdb was locked out of its own password file right after citus_add_node ("password authentication failed").
    /// </summary>
    private async Task AdoptCoordinatorPasswordAsync(LocalCluster worker, CancellationToken ct)
    {
        var password = ReadPassword(Coordinator);
        if (ReadPassword(worker) == password)
        {
            return;
        }

        var withShared = new NpgsqlConnectionStringBuilder(worker.ConnectionString("postgres")) { Passfile = Coordinator.PasswordFile, Pooling = false };
        try
        {
            // Already registered (Citus set it), but its file was not rewritten: only the file is behind.
            await using var probe = new NpgsqlConnection(withShared.ConnectionString);
            await probe.OpenAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(worker.ConnectionString("postgres")) { Pooling = false }.ConnectionString);
            await conn.OpenAsync(ct);
            // Identifiers and literals cannot be parameters; format() on the server quotes them. A verifier, not the password, goes over the wire.
            await using var build = new NpgsqlCommand("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", conn);
            build.Parameters.AddWithValue(ProcessRunner.ServerUser);
            build.Parameters.AddWithValue(ScramVerifier.Create(password));
            var sql = (string)(await build.ExecuteScalarAsync(ct))!;
            await using var alter = new NpgsqlCommand(sql, conn);
            await alter.ExecuteNonQueryAsync(ct);
        }

        OwnerOnlyFile.Write(worker.PasswordFile, File.ReadAllText(Coordinator.PasswordFile));
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>The node's generated password, from its client-side password file (host:port:database:user:password).</summary>
    private static string ReadPassword(LocalCluster node)
    {
        var line = File.Exists(node.PasswordFile) ? File.ReadLines(node.PasswordFile).FirstOrDefault(l => l.Count(c => c == ':') >= 4) : null;
        return line?.Split(':', 5)[4]
            ?? throw new LocalClusterException($"The password file {node.PasswordFile} of the Citus node in {node.Root} is missing or empty.");
    }

    /// <summary>
    /// A node created before (a single-node .todoscale/pg becoming the coordinator) lacks the Citus settings, which only
    /// take effect at server start: set them with ALTER SYSTEM and restart that node once.
    /// </summary>
    private async Task EnsureCitusSettingsAsync(LocalCluster node, CancellationToken ct)
    {
        var desired = _nodeOptions.Settings.Where(kv => NodeSettings.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value.Trim('\''));
        await using (var conn = new NpgsqlConnection(node.ConnectionString("postgres")))
        {
            await conn.OpenAsync(ct);
            var preload = await CurrentSettingAsync(conn, "shared_preload_libraries", ct);
            var libraries = preload!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
            if (libraries.FirstOrDefault() == "citus" && await CurrentSettingAsync(conn, "wal_level", ct) == "logical")
            {
                await EnsureCitusGucsAsync(conn, desired, ct);
                return;
            }

            // Citus must come first in shared_preload_libraries; libraries already listed stay.
            desired["shared_preload_libraries"] = string.Join(",", libraries.Where(l => l != "citus").Prepend("citus"));
            // The server knows citus.* settings only once it has loaded Citus: those follow the restart.
            await AlterSystemAsync(conn, desired.Where(kv => !kv.Key.StartsWith("citus.", StringComparison.Ordinal)), ct);
        }

        NpgsqlConnection.ClearAllPools();
        await node.StopAsync(ct);
        await node.StartAsync(database: null, ct);
        await using (var conn = new NpgsqlConnection(node.ConnectionString("postgres")))
        {
            await conn.OpenAsync(ct);
            await EnsureCitusGucsAsync(conn, desired, ct);
        }

        _nodeOptions.Notice?.Invoke(
            $"The PostgreSQL in {node.ServerRoot} now loads Citus (shared_preload_libraries, wal_level = logical; set with ALTER SYSTEM) and was restarted.");
    }

    /// <summary>The citus.* node settings (reloadable), for a node whose postgresql.conf was written without them.</summary>
    private static async Task EnsureCitusGucsAsync(NpgsqlConnection conn, IReadOnlyDictionary<string, string> desired, CancellationToken ct)
    {
        var differing = new List<KeyValuePair<string, string>>();
        foreach (var setting in desired.Where(kv => kv.Key.StartsWith("citus.", StringComparison.Ordinal)))
        {
            if (await CurrentSettingAsync(conn, setting.Key, ct) != setting.Value)
            {
                differing.Add(setting);
            }
        }

        if (differing.Count > 0)
        {
            await AlterSystemAsync(conn, differing, ct);
            await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", conn);
            await reload.ExecuteNonQueryAsync(ct);
        }
    }

    private static async Task<string?> CurrentSettingAsync(NpgsqlConnection conn, string name, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT current_setting($1, true)", conn);
        cmd.Parameters.AddWithValue(name);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    private static async Task AlterSystemAsync(NpgsqlConnection conn, IEnumerable<KeyValuePair<string, string>> settings, CancellationToken ct)
    {
        foreach (var (name, value) in settings)
        {
            // Names and values cannot be parameters of ALTER SYSTEM; format() on the server quotes them.
            await using var build = new NpgsqlCommand("SELECT format('ALTER SYSTEM SET %I = %L', $1::text, $2::text)", conn);
            build.Parameters.AddWithValue(name);
            build.Parameters.AddWithValue(value);
            var sql = (string)(await build.ExecuteScalarAsync(ct))!;
            await using var alter = new NpgsqlCommand(sql, conn);
            await alter.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>
    /// On the coordinator's <paramref name="database"/>: its own host, nodes that moved to another port
    /// (<paramref name="movedPorts"/> old → new), and every local worker not yet in pg_dist_node.
    /// </summary>
    private async Task RegisterNodesAsync(string database, IReadOnlyDictionary<int, int> movedPorts, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(Coordinator.ConnectionString(database));
        await conn.OpenAsync(ct);
        await CitusAvailability.RequireLoadedAsync(conn, ct);
        foreach (var (oldPort, newPort) in movedPorts)
        {
            await using var update = new NpgsqlCommand(
                "SELECT citus_update_node(nodeid, $1, $3) FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2 AND groupid <> 0", conn);
            update.Parameters.AddWithValue(LoopbackHost);
            update.Parameters.AddWithValue(oldPort);
            update.Parameters.AddWithValue(newPort);
            await update.ExecuteNonQueryAsync(ct);
        }

        await using (var coordinator = new NpgsqlCommand("SELECT citus_set_coordinator_host($1, $2)", conn))
        {
            coordinator.Parameters.AddWithValue(LoopbackHost);
            coordinator.Parameters.AddWithValue(Coordinator.Port);
            await coordinator.ExecuteNonQueryAsync(ct);
        }

        foreach (var worker in Nodes.Where(n => n.Role == CitusNodeRole.Worker))
        {
            // citus_add_node of a registered node is a no-op too, but takes locks across the cluster: skip it.
            await using var add = new NpgsqlCommand(
                "SELECT citus_add_node($1, $2) WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2)", conn);
            add.Parameters.AddWithValue(LoopbackHost);
            add.Parameters.AddWithValue(worker.Cluster.Port);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await add.ExecuteNonQueryAsync(ct);
                    break;
                }
                catch (PostgresException e) when (attempt < RegisterAttempts && e.SqlState == PostgresErrorCodes.InternalError
                                                  && e.MessageText.StartsWith("failure on connection marked as essential", StringComparison.Ordinal))
                {
                    // The coordinator could not open its connection to a worker that is up (CI, 2 busy cores: one such
                    // failure while another test's nodes started). Nothing was registered, so the add is simply repeated.
                    await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
                }
            }
        }
    }

    /// <summary>The coordinator's databases that have the citus extension (each keeps its own pg_dist_node).</summary>
    public async Task<IReadOnlyList<string>> CitusDatabasesAsync(CancellationToken ct)
    {
        var names = new List<string>();
        await using (var conn = new NpgsqlConnection(Coordinator.ConnectionString("postgres")))
        {
            await conn.OpenAsync(ct);
            await using var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate", conn);
            await using var reader = await list.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                names.Add(reader.GetString(0));
            }
        }

        var citus = new List<string>();
        foreach (var name in names)
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Coordinator.ConnectionString(name)) { Pooling = false }.ConnectionString);
            await conn.OpenAsync(ct);
            await using var has = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')", conn);
            if ((bool)(await has.ExecuteScalarAsync(ct))!)
            {
                citus.Add(name);
            }
        }

        return citus;
    }
}
