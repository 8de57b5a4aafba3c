using System.Text.Json;
using Npgsql;

namespace TodoScale.Database.Cluster;

public enum CitusNodeRole { Coordinator, Worker }

/// <summary>One node of a <see cref="LocalCitusCluster"/>: a <see cref="LocalCluster"/> of its own.</summary>
public sealed record CitusNode(string Name, CitusNodeRole Role, LocalCluster Cluster);

/// <summary>
/// A Citus coordinator and N workers on loopback, each a <see cref="LocalCluster"/> with its own folder: the
/// coordinator in the given root (default .todoscale/pg, so `db url` and every command keep using it), worker i in
/// ROOT-worker-i. Every node loads Citus, runs with wal_level = logical (online shard moves and
/// create_distributed_table_concurrently copy by logical replication) and asks for its password; the nodes' own
/// connections to each other read a server-side password file (<see cref="ServerPasswordFileName"/>).
/// </summary>
public sealed partial class LocalCitusCluster
{
    public const string TopologyFileName = "citus.json";

    /// <summary>
    /// postgresql.conf of every node. Background workers: Citus runs a maintenance daemon per database, the rebalancer
    /// runs background task executors, and each shard move needs logical replication apply workers; PostgreSQL's
    /// default of 8 ran out with a few databases ("out of background worker slots").
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> NodeSettings = new Dictionary<string, string>
    {
        ["shared_preload_libraries"] = "'citus'",
        ["wal_level"] = "logical",
        ["max_worker_processes"] = "32",
        ["max_logical_replication_workers"] = "8",
        ["max_replication_slots"] = "16",
        ["max_wal_senders"] = "16",
        // The rebalancer's background tasks connect to their own node by this name; 'localhost' may resolve to ::1,
        // where the node does not listen.
        ["citus.local_hostname"] = "'127.0.0.1'",
    };

    private readonly LocalClusterOptions _nodeOptions;
    private readonly PostgresBinaries? _binaries;

    public LocalCitusCluster(string coordinatorRoot, LocalClusterOptions? options = null, PostgresBinaries? binaries = null)
    {
        var given = options ?? new LocalClusterOptions();
        var settings = new Dictionary<string, string>(NodeSettings);
        foreach (var (k, v) in given.Settings)
        {
            settings[k] = v;
        }

        _nodeOptions = given with
        {
            Settings = settings,
            ServerEnvironment = node => new Dictionary<string, string> { ["PGPASSFILE"] = ServerPasswordFile(node) },
        };
        _binaries = binaries;
        Coordinator = new LocalCluster(coordinatorRoot, _nodeOptions, binaries);
    }

    public LocalCluster Coordinator { get; }

    /// <summary>The coordinator's folder; the workers' folders are named after it.</summary>
    public string Root => Coordinator.Root;

    private string TopologyFile => Path.Combine(Root, TopologyFileName);

    /// <summary>True when <paramref name="root"/> holds a coordinator started with workers (so a plain `db start` starts them all).</summary>
    public static bool Exists(string root) => File.Exists(Path.Combine(Path.GetFullPath(root), TopologyFileName));

    /// <summary>Workers started from this folder (external workers added with --host/--port live only in pg_dist_node).</summary>
    public int LocalWorkerCount => ReadTopology()?.Workers ?? 0;

    public string WorkerRoot(int number) => $"{Root}-worker-{number}";

    public LocalCluster Worker(int number) => new(WorkerRoot(number), _nodeOptions, _binaries);

    public IReadOnlyList<CitusNode> Nodes =>
    [
        new("coordinator", CitusNodeRole.Coordinator, Coordinator),
        .. Enumerable.Range(1, LocalWorkerCount).Select(i => new CitusNode($"worker-{i}", CitusNodeRole.Worker, Worker(i))),
    ];

    public string ConnectionString(string database = LocalCluster.DefaultDatabase) => Coordinator.ConnectionString(database);

    public string Url(string database = LocalCluster.DefaultDatabase) => Coordinator.Url(database);

    public Task<LocalClusterState> GetStateAsync(CancellationToken ct = default) => Coordinator.GetStateAsync(ct);

    /// <summary>
    /// Creates (first time) and starts the coordinator and at least <paramref name="workers"/> workers (never fewer than
    /// were started before), and makes <paramref name="database"/> a Citus database on every node with the workers
    /// registered. Idempotent: a running cluster is only checked.
    /// </summary>
    public async Task StartAsync(int workers, string? database = LocalCluster.DefaultDatabase, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        await CitusAvailability.RequireInstalledAsync(_binaries ?? Coordinator.Binaries, ct);
        Directory.CreateDirectory(Root);
        // Written first: a start interrupted half-way still knows every worker folder, so stop and the next start find them.
        WriteTopology(new CitusTopology(Math.Max(workers, LocalWorkerCount)));

        var nodes = Nodes;
        var portsBefore = nodes.ToDictionary(n => n.Name, n => n.Cluster.Port);
        await Task.WhenAll(nodes.Select(n => StartNodeAsync(n.Cluster, ct)));
        foreach (var worker in nodes.Where(n => n.Role == CitusNodeRole.Worker))
        {
            await AdoptCoordinatorPasswordAsync(worker.Cluster, ct);
        }

        await WriteServerPasswordFilesAsync(nodes, ct);

        var moved = nodes.Where(n => portsBefore[n.Name] != 0 && portsBefore[n.Name] != n.Cluster.Port)
            .ToDictionary(n => portsBefore[n.Name], n => n.Cluster.Port);
        if (moved.Count > 0)
        {
            // A node that had to take another port (its old one was busy) is still registered under the old one in
            // every Citus database: queries would go to whatever now listens there, or fail.
            foreach (var db in await CitusDatabasesAsync(ct))
            {
                await RegisterNodesAsync(db, moved, ct);
            }
        }

        if (database is not null)
        {
            await EnsureDatabaseAsync(database, ct);
        }
    }

    /// <summary>
    /// Makes <paramref name="database"/> a Citus database: created on every node (Citus 13 does not propagate CREATE
    /// DATABASE by default), the extension in each, the coordinator's host and every local worker registered.
    /// </summary>
    public async Task EnsureDatabaseAsync(string database, CancellationToken ct = default)
    {
        await Task.WhenAll(Nodes.Select(n => EnsureCitusDatabaseOnNodeAsync(n.Cluster, database, ct)));
        await RegisterNodesAsync(database, new Dictionary<int, int>(), ct);
    }

    /// <summary>
    /// Drops <paramref name="database"/> on every node. Dropping it on the coordinator alone leaves its shards on the
    /// workers, where a database of the same name made later would find them (and Citus would refuse to place its own).
    /// </summary>
    public async Task DropDatabaseAsync(string database, CancellationToken ct = default)
    {
        foreach (var node in Nodes)
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(node.Cluster.ConnectionString("postgres")) { Pooling = false }.ConnectionString);
            await conn.OpenAsync(ct);
            // Identifiers cannot be parameters; format('%I') on the server quotes the name.
            await using var build = new NpgsqlCommand("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)", conn);
            build.Parameters.AddWithValue(database);
            await using var drop = new NpgsqlCommand((string)(await build.ExecuteScalarAsync(ct))!, conn);
            await drop.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>Stops every node, workers first (the coordinator's maintenance daemon then sees no half-stopped cluster for long).</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        var nodes = Nodes;
        await Task.WhenAll(nodes.Where(n => n.Role == CitusNodeRole.Worker).Select(n => n.Cluster.StopAsync(ct)));
        await Coordinator.StopAsync(ct);
    }

    /// <summary>
    /// Starts one more local worker (the next number) and registers it in every Citus database of the coordinator (each
    /// keeps its own pg_dist_node), creating the database and the extension on it. Moves no shards: the caller rebalances.
    /// </summary>
    public async Task<CitusNode> AddLocalWorkerAsync(CancellationToken ct = default)
    {
        await CitusAvailability.RequireInstalledAsync(_binaries ?? Coordinator.Binaries, ct);
        var number = LocalWorkerCount + 1;
        WriteTopology(new CitusTopology(number));
        var node = new CitusNode($"worker-{number}", CitusNodeRole.Worker, Worker(number));
        await StartNodeAsync(node.Cluster, ct);
        await AdoptCoordinatorPasswordAsync(node.Cluster, ct);
        await WriteServerPasswordFilesAsync(Nodes, ct);
        foreach (var database in await CitusDatabasesAsync(ct))
        {
            await EnsureDatabaseAsync(database, ct);
        }

        return node;
    }

    private async Task StartNodeAsync(LocalCluster node, CancellationToken ct)
    {
        await node.StartAsync(database: null, ct);
        await EnsureCitusSettingsAsync(node, ct);
    }

    private static async Task EnsureCitusDatabaseOnNodeAsync(LocalCluster node, string database, CancellationToken ct)
    {
        await node.EnsureDatabaseAsync(database, ct);
        await using var conn = new NpgsqlConnection(node.ConnectionString(database));
        await conn.OpenAsync(ct);
        await CitusAvailability.RequireLoadedAsync(conn, ct);
        await using var create = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS citus", conn);
        await create.ExecuteNonQueryAsync(ct);
    }

    private sealed record CitusTopology(int Workers);

    private CitusTopology? ReadTopology() =>
        File.Exists(TopologyFile) ? JsonSerializer.Deserialize<CitusTopology>(File.ReadAllText(TopologyFile)) : null;

    private void WriteTopology(CitusTopology topology) => File.WriteAllText(TopologyFile, JsonSerializer.Serialize(topology));
}
