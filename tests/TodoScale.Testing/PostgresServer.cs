using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Connections;
using TodoScale.Database.Schema;
using Xunit;

namespace TodoScale.Testing;

/// <summary>
/// The PostgreSQL server of one test run (an xunit assembly fixture): a throwaway cluster started with the
/// product's own LocalCluster code in a temp folder (fsync off), or, when TODOSCALE_TEST_DATABASE names an
/// existing server, that server. Tests get databases cloned from a template that the migrator built once.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string ExistingServerVariable = "TODOSCALE_TEST_DATABASE";
    private const string TemplateName = "todoscale_test_template";

    private readonly SemaphoreSlim _templateLock = new(1, 1);
    private readonly List<string> _created = [];
    private LocalCluster? _cluster;
    private bool _templateReady;

    public string AdminConnectionString { get; private set; } = "";

    /// <summary>The server programs (psql, pg_dump) of the cluster, or of this machine for an existing server.</summary>
    public PostgresBinaries Binaries => _cluster?.Binaries ?? PostgresBinaries.Locate();

    public async ValueTask InitializeAsync()
    {
        var existing = Environment.GetEnvironmentVariable(ExistingServerVariable);
        if (!string.IsNullOrWhiteSpace(existing))
        {
            AdminConnectionString = ConnectionStrings.Normalize(existing);
            return;
        }

        var root = Path.Combine(Path.GetTempPath(), $"todoscale-test-{Guid.NewGuid():N}"[..28]);
        _cluster = new LocalCluster(root, new LocalClusterOptions { Durable = false });
        await _cluster.StartAsync(database: null);
        AdminConnectionString = _cluster.ConnectionString("postgres");
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_cluster is not null)
        {
            await _cluster.StopAsync();
            try
            {
                Directory.Delete(_cluster.Root, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless; failing the run over it is not.
            }
        }
        else
        {
            foreach (var db in _created)
            {
                await ExecuteAdminAsync($"DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
            }
        }
    }

    // Every test database gets its own Npgsql pool, and an idle pooled connection stays open for 5 minutes by
    // default: with the test classes running side by side, the idle connections of finished tests filled
    // max_connections ("53300: too many clients") for the tests still running. Close them after a few seconds.
    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString)
        {
            Database = database,
            ConnectionIdleLifetime = 5,
            ConnectionPruningInterval = 1,
        }.ConnectionString;

    /// <summary>A new database with the whole TodoScale schema applied (cloned from a migrated template).</summary>
    public async Task<string> CreateMigratedDatabaseAsync(string prefix)
    {
        await EnsureTemplateAsync();
        return await CreateDatabaseAsync(prefix, TemplateName);
    }

    /// <summary>A new, empty database (for tests that build a legacy application database first).</summary>
    public Task<string> CreateEmptyDatabaseAsync(string prefix) => CreateDatabaseAsync(prefix, "template0");

    public async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        return conn;
    }

    private async Task<string> CreateDatabaseAsync(string prefix, string template)
    {
        // Unique per call: each test class (and each test that asks) owns its database.
        var name = $"{new string(prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(24).ToArray())}_{Guid.NewGuid():N}"[..Math.Min(40, prefix.Length + 33)];
        await ExecuteAdminAsync($"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        lock (_created)
        {
            _created.Add(name);
        }

        return ConnectionString(name);
    }

    private async Task EnsureTemplateAsync()
    {
        if (_templateReady)
        {
            return;
        }

        await _templateLock.WaitAsync();
        try
        {
            if (_templateReady)
            {
                return;
            }

            await ExecuteAdminAsync($"DROP DATABASE IF EXISTS \"{TemplateName}\" WITH (FORCE)");
            await ExecuteAdminAsync($"CREATE DATABASE \"{TemplateName}\" TEMPLATE template0");
            var templateConnection = ConnectionString(TemplateName);
            await new SchemaMigrator(templateConnection).MigrateAsync();
            // CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template.
            NpgsqlConnection.ClearAllPools();
            _templateReady = true;
        }
        finally
        {
            _templateLock.Release();
        }
    }

    private async Task ExecuteAdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
