using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;
using Xunit;

namespace TodoScale.Testing;

/// <summary>
/// The Citus cluster of one test run (an xunit assembly fixture: add
/// <c>[assembly: AssemblyFixture(typeof(TodoScale.Testing.CitusServer))]</c> and take it in a test class's constructor):
/// a coordinator and <see cref="WorkerCount"/> workers started with the product's own <see cref="LocalCitusCluster"/>
/// in a temp folder (fsync off). It starts on the first database asked for, not with the assembly, so test projects
/// whose Citus tests are filtered out pay nothing. Each test class gets its own Citus database on every node.
/// A machine without Citus fails the tests that ask (clear message), it never skips them.
/// </summary>
public sealed class CitusServer : IAsyncLifetime
{
    public const int WorkerCount = 2;

    /// <summary>
    /// Small nodes: three of them share a CI machine with the plain test server. Every Citus database runs a
    /// maintenance daemon (a background worker) per node, and each test class creates one.
    /// </summary>
    private static readonly LocalClusterOptions NodeOptions = new()
    {
        Durable = false,
        Settings = new Dictionary<string, string>
        {
            ["shared_buffers"] = "'64MB'",
            ["max_connections"] = "300",
            ["max_worker_processes"] = "96",
        },
    };

    private readonly SemaphoreSlim _startLock = new(1, 1);
    private LocalCitusCluster? _cluster;
    private string? _folder;

    /// <summary>The cluster, started on first use.</summary>
    public async Task<LocalCitusCluster> ClusterAsync()
    {
        if (_cluster is { } started)
        {
            return started;
        }

        await _startLock.WaitAsync();
        try
        {
            if (_cluster is null)
            {
                // Short: a Unix socket path must stay under 108 bytes, and the workers' folders add "-worker-N/run".
                _folder = Path.Combine(Path.GetTempPath(), $"todoscale-citus-{Guid.NewGuid():N}"[..24]);
                Directory.CreateDirectory(_folder);
                if (Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows())
                {
                    // The server's user (postgres) has to pass through it to reach its data folders.
                    File.SetUnixFileMode(_folder, File.GetUnixFileMode(_folder) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
                }

                var cluster = new LocalCitusCluster(Path.Combine(_folder, "pg"), NodeOptions);
                await cluster.StartAsync(WorkerCount, database: null);
                _cluster = cluster;
            }

            return _cluster;
        }
        finally
        {
            _startLock.Release();
        }
    }

    /// <summary>
    /// A new database on every node with the citus extension, the coordinator's host set and both workers registered
    /// (citus_get_active_worker_nodes() has <see cref="WorkerCount"/> rows). Returns the coordinator's connection string.
    /// </summary>
    public async Task<string> CreateCitusDatabaseAsync(string prefix)
    {
        var cluster = await ClusterAsync();
        var name = DatabaseName(prefix);
        await cluster.EnsureDatabaseAsync(name);
        return ConnectionString(cluster.ConnectionString(name));
    }

    /// <summary>
    /// <see cref="CreateCitusDatabaseAsync"/> with the TodoScale schema applied on the coordinator by <see cref="SchemaMigrator"/>
    /// (as local tables of the coordinator: distributing them is the caller's next step).
    /// </summary>
    public async Task<string> CreateMigratedCitusDatabaseAsync(string prefix)
    {
        var cs = await CreateCitusDatabaseAsync(prefix);
        await new SchemaMigrator(cs).MigrateAsync();
        return cs;
    }

    /// <summary>The same database on each worker (for looking at shards directly), in worker order.</summary>
    public async Task<IReadOnlyList<string>> WorkerConnectionStringsAsync(string coordinatorConnectionString)
    {
        var cluster = await ClusterAsync();
        var database = new NpgsqlConnectionStringBuilder(coordinatorConnectionString).Database!;
        return cluster.Nodes.Where(n => n.Role == CitusNodeRole.Worker).Select(n => ConnectionString(n.Cluster.ConnectionString(database))).ToList();
    }

    public async ValueTask InitializeAsync() => await Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_cluster is not null)
        {
            await _cluster.StopAsync();
            foreach (var node in _cluster.Nodes)
            {
                TryDelete(node.Cluster.Root);
            }
        }

        if (_folder is not null)
        {
            TryDelete(_folder);
        }
    }

    // As PostgresServer: idle pooled connections of finished test classes must not fill max_connections.
    private static string ConnectionString(string cs) => new NpgsqlConnectionStringBuilder(cs)
    {
        ConnectionIdleLifetime = 5,
        ConnectionPruningInterval = 1,
    }.ConnectionString;

    private static string DatabaseName(string prefix)
    {
        var clean = new string(prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(24).ToArray());
        return $"{clean}_{Guid.NewGuid():N}"[..(clean.Length + 13)];
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless; failing the run over it is not.
        }
        catch (UnauthorizedAccessException)
        {
            // Same: the server's user may still own a file being written as it stopped.
        }
    }
}
