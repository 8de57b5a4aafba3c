using Npgsql;
using NpgsqlTypes;
using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;
using Xunit;

namespace TodoScale.Testing;

/// <summary>
/// A primary and one streaming standby of their own (a class fixture: one pair per test class that asks), started with
/// the product's LocalReplicaSet in a temp folder (fsync off). Tests pause replay, stop and start the standby; each test
/// leaves it running and replaying (<see cref="RestoreAsync"/>), so the next test of the class starts from a healthy pair.
/// Always a throwaway pair, even when TODOSCALE_TEST_DATABASE names a server: tests stop its standby.
/// </summary>
public sealed class ReplicatedServer : IAsyncLifetime
{
    private LocalReplicaSet? _set;
    private Task<string>? _shared;

    public LocalCluster Primary => _set?.Primary ?? throw new InvalidOperationException("not started");
    public LocalStandby Standby => _set?.Standbys[0] ?? throw new InvalidOperationException("not started");
    public LocalReplicaSet Set => _set ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), $"todoscale-repl-{Guid.NewGuid():N}"[..28], "pg");
        _set = new LocalReplicaSet(new LocalCluster(root, new LocalClusterOptions { Durable = false }));
        await _set.StartAsync(replicas: 1, database: null);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_set is null)
        {
            return;
        }

        await _set.StopAsync();
        try
        {
            Directory.Delete(Path.GetDirectoryName(_set.Primary.Root)!, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless; failing the run over it is not.
        }
    }

    /// <summary>A new migrated database on the primary (connection string), already replayed by the standby.</summary>
    public async Task<string> CreateMigratedDatabaseAsync(string prefix)
    {
        var name = $"{new string(prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(20).ToArray())}_{Guid.NewGuid():N}"[..Math.Min(36, prefix.Length + 33)];
        await Primary.EnsureDatabaseAsync(name);
        var cs = PrimaryConnectionString(name);
        await new SchemaMigrator(cs).MigrateAsync();
        await WaitForCatchUpAsync();
        return cs;
    }

    /// <summary>One migrated database for the whole class (created once: migrating takes seconds); tests keep apart by using new users.</summary>
    public Task<string> SharedDatabaseAsync(string prefix)
    {
        lock (this)
        {
            return _shared ??= CreateMigratedDatabaseAsync(prefix);
        }
    }

    public string PrimaryConnectionString(string database) => Short(Primary.ConnectionString(database));
    public string StandbyConnectionString(string database) => Short(Standby.ConnectionString(database));

    public static string DatabaseOf(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Database!;

    public Task PauseReplayAsync() => Sql.ExecAsync(Admin(Standby.ConnectionString("postgres")), "SELECT pg_wal_replay_pause()");

    public Task ResumeReplayAsync() => Sql.ExecAsync(Admin(Standby.ConnectionString("postgres")), "SELECT pg_wal_replay_resume()");

    public Task StopStandbyAsync() => Standby.StopAsync();

    public async Task StartStandbyAsync()
    {
        await Standby.StartAsync();
        // Idle pooled connections to the standby were terminated when it stopped (57P01 on their next command): a
        // test that reads the standby right after the restart must get a new connection, not one of those.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Waits until the standby has replayed everything the primary has written so far.</summary>
    public async Task WaitForCatchUpAsync(TimeSpan? timeout = null)
    {
        // The insert LSN, not pg_current_wal_lsn(): test clusters run synchronous_commit=off, so a commit just made may
        // still sit in WAL buffers past the write position, and "replayed up to the write position" would let a test
        // read the standby before that commit (42P01 on a table the primary had created: a flaky CI failure).
        var target = await Sql.ScalarAsync<NpgsqlLogSequenceNumber>(Admin(Primary.ConnectionString("postgres")), "SELECT pg_current_wal_insert_lsn()");
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var replayed = await Sql.ScalarAsync<NpgsqlLogSequenceNumber?>(Admin(Standby.ConnectionString("postgres")), "SELECT pg_last_wal_replay_lsn()");
            if (replayed is { } r && r >= target)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the standby replayed {replayed} of {target} within the timeout");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Back to a running, replaying standby that has caught up (what each test leaves behind, even when it fails).</summary>
    public async Task RestoreAsync()
    {
        await Standby.StartAsync();
        await ResumeReplayAsync();
        await WaitForCatchUpAsync();
    }

    // Short idle lifetime: tests stop the standby, and pooled connections to a stopped server only fail the next user.
    private static string Short(string cs) =>
        new NpgsqlConnectionStringBuilder(cs) { ConnectionIdleLifetime = 5, ConnectionPruningInterval = 1 }.ConnectionString;

    private static string Admin(string cs) => new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString;
}
