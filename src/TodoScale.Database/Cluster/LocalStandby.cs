using System.Text.Json;
using Npgsql;
using TodoScale.Database.Files;

namespace TodoScale.Database.Cluster;

/// <summary>
/// One streaming standby of the built-in cluster (<see cref="LocalReplicaSet"/>): its own data folder next to the
/// primary's (<c>.todoscale/pg-standby-N</c>), made with <c>pg_basebackup -R</c> from a physical replication slot,
/// on 127.0.0.1 and a free port of its own, read-only (hot standby). It logs in to the primary as the built-in
/// superuser with the built-in password (scram-sha-256), from a password file that only the server's user can read.
/// </summary>
public sealed class LocalStandby
{
    public const string FolderPrefix = "pg-standby-";
    private readonly LocalCluster _primary;

    internal LocalStandby(LocalCluster primary, int index)
    {
        _primary = primary;
        Index = index;
    }

    public int Index { get; }
    public string Name => $"standby-{Index}";

    /// <summary>The physical slot on the primary: the primary keeps the WAL this standby has not received yet, so a stopped standby can catch up instead of needing a new base backup.</summary>
    public string SlotName => $"todoscale_standby_{Index}";

    /// <summary>Next to the primary's server folder (so a relocated cluster's standbys are where the server's user can reach them too).</summary>
    public string Folder => Path.Combine(Path.GetDirectoryName(_primary.ServerRoot)!, FolderPrefix + Index);
    public string DataDirectory => Path.Combine(Folder, "data");
    public string SocketDirectory => Path.Combine(Folder, "run");
    public string LogFile => Path.Combine(Folder, "server.log");
    private string StateFile => Path.Combine(Folder, "standby.json");

    /// <summary>The replication password file the standby's server reads (owned by the server's user, mode 0600).</summary>
    private string ReplicationPasswordFile => Path.Combine(Folder, "replication.pgpass");

    public int Port => File.Exists(StateFile) ? JsonSerializer.Deserialize<StandbyState>(File.ReadAllText(StateFile))?.Port ?? 0 : 0;

    public bool Exists => File.Exists(Path.Combine(DataDirectory, "PG_VERSION"));

    public string ConnectionString(string database = LocalCluster.DefaultDatabase) =>
        new NpgsqlConnectionStringBuilder(_primary.ConnectionString(database)) { Port = Port }.ConnectionString;

    public string Url(string database = LocalCluster.DefaultDatabase) =>
        $"postgresql://{ProcessRunner.ServerUser}@127.0.0.1:{Port}/{Uri.EscapeDataString(database)}?passfile={Uri.EscapeDataString(_primary.PasswordFile).Replace("%2F", "/", StringComparison.Ordinal)}";

    public async Task<LocalClusterState> GetStateAsync(CancellationToken ct = default)
    {
        if (!Exists)
        {
            return LocalClusterState.NotCreated;
        }

        var (code, _) = await ProcessRunner.RunAsync(_primary.Binaries.PgCtl, ["status", "-D", DataDirectory], asServerUser: true, ct);
        return code == 0 ? LocalClusterState.Running : LocalClusterState.Stopped;
    }

    /// <summary>Creates the standby from a base backup of the running primary if needed, and starts it.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        var state = await GetStateAsync(ct);
        if (state == LocalClusterState.NotCreated)
        {
            await CreateAsync(ct);
            state = LocalClusterState.Stopped;
        }

        if (state == LocalClusterState.Stopped)
        {
            var port = Port;
            if (port == 0 || !LocalCluster.IsPortFree(port))
            {
                port = LocalCluster.FindFreePort();
            }

            await File.WriteAllTextAsync(StateFile, JsonSerializer.Serialize(new StandbyState(port)), ct);
            var socketArg = SocketDirectory.Length < 90 ? $" -k {SocketDirectory}" : " -k ''";
            await ProcessRunner.RunCheckedAsync(_primary.Binaries.PgCtl,
                ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", $"-p {port}{socketArg}"], asServerUser: true, ct);
        }
    }

    public async Task StopAsync(CancellationToken ct = default)
    {
        if (await GetStateAsync(ct) == LocalClusterState.Running)
        {
            await ProcessRunner.RunCheckedAsync(_primary.Binaries.PgCtl, ["stop", "-D", DataDirectory, "-m", "fast", "-w"], asServerUser: true, ct);
        }
    }

    private async Task CreateAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(SocketDirectory);
        if (Directory.Exists(DataDirectory))
        {
            // A base backup interrupted earlier left a partial folder; pg_basebackup needs an empty one.
            Directory.Delete(DataDirectory, recursive: true);
        }

        await File.WriteAllTextAsync(LogFile, "", ct);
        OwnerOnlyFile.Write(ReplicationPasswordFile, File.ReadAllText(_primary.PasswordFile));
        if (ProcessRunner.RunningAsRoot)
        {
            await ProcessRunner.RunCheckedAsync("chown", ["-R", $"{ProcessRunner.ServerUser}:", Folder], asServerUser: false, ct);
        }

        await EnsureSlotAsync(ct);
        // -R writes standby.signal and primary_conninfo; the connection names the password FILE, so the password itself is not
        // copied into the standby's configuration. -X stream: the WAL written during the copy comes along, the copy is consistent.
        var passfile = ReplicationPasswordFile.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("'", @"\'", StringComparison.Ordinal);
        var conninfo = $"host=127.0.0.1 port={_primary.Port} user={ProcessRunner.ServerUser} passfile='{passfile}' application_name={Name}";
        await ProcessRunner.RunCheckedAsync(PgBaseBackup, ["-D", DataDirectory, "-d", conninfo, "-S", SlotName, "-X", "stream", "-R", "-c", "fast"],
            asServerUser: true, ct);
        await WriteStandbySettingsAsync(conninfo, ct);
    }

    /// <summary>
    /// Replaces the primary_conninfo that -R wrote (libpq puts the password it read from the file into it) with one that
    /// names the password file, and turns on hot_standby_feedback: without it, VACUUM on the primary removes rows a
    /// standby query still reads, and replay cancels that query ("conflict with recovery") or waits and lags.
    /// </summary>
    private async Task WriteStandbySettingsAsync(string conninfo, CancellationToken ct)
    {
        var auto = Path.Combine(DataDirectory, "postgresql.auto.conf");
        var lines = (await File.ReadAllLinesAsync(auto, ct))
            .Where(l => !l.TrimStart().StartsWith("primary_conninfo", StringComparison.Ordinal)
                        && !l.TrimStart().StartsWith("hot_standby_feedback", StringComparison.Ordinal))
            .Append($"primary_conninfo = '{conninfo.Replace("'", "''", StringComparison.Ordinal)}'")
            .Append("hot_standby_feedback = on")
            .ToList();
        // In place, so the file keeps its owner (the server's user).
        await File.WriteAllLinesAsync(auto, lines, ct);
    }

    private async Task EnsureSlotAsync(CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(_primary.ConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", conn);
        cmd.Parameters.AddWithValue(SlotName);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Drops this standby's slot on the primary (the slot otherwise keeps WAL for a standby that no longer exists).</summary>
    internal async Task DropSlotAsync(CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(_primary.ConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", conn);
        cmd.Parameters.AddWithValue(SlotName);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private string PgBaseBackup => Path.Combine(_primary.Binaries.Directory, "pg_basebackup");

    private sealed record StandbyState(int Port);
}
