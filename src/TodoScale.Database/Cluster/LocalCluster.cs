using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;

namespace TodoScale.Database.Cluster;

public enum LocalClusterState { NotCreated, Stopped, Running }

/// <summary>
/// A private PostgreSQL cluster in a folder of ours (default .todoscale/pg), listening on 127.0.0.1 and a
/// free port that is remembered between runs, asking for a generated password (scram-sha-256) that only the
/// client can read. The CLI uses it when no database is given; the tests start a throwaway one with the same code.
/// </summary>
public sealed partial class LocalCluster
{
    public const string DefaultRoot = ".todoscale/pg";
    public const string DefaultDatabase = "todoscale";

    private readonly LocalClusterOptions _options;
    private readonly Lazy<PostgresBinaries> _binaries;

    public LocalCluster(string root, LocalClusterOptions? options = null, PostgresBinaries? binaries = null)
    {
        Root = Path.GetFullPath(root);
        _options = options ?? new LocalClusterOptions();
        _binaries = new Lazy<PostgresBinaries>(() => binaries ?? PostgresBinaries.Locate());
    }

    /// <summary>The cluster's folder as named: the client's side (port, password file, where the server's files are).</summary>
    public string Root { get; }

    /// <summary>Where the server's files are: <see cref="Root"/>, or a folder the server's user can reach when it cannot reach Root.</summary>
    public string ServerRoot => ReadServerLocation() ?? Root;

    public string DataDirectory => Path.Combine(ServerRoot, "data");
    public string SocketDirectory => Path.Combine(ServerRoot, "run");
    public string LogFile => Path.Combine(ServerRoot, "server.log");
    private string StateFile => Path.Combine(Root, "cluster.json");
    public PostgresBinaries Binaries => _binaries.Value;

    /// <summary>The port the cluster was last started on (0 before the first start).</summary>
    public int Port => ReadState()?.Port ?? 0;

    /// <summary>Npgsql form; the password comes from <see cref="PasswordFile"/>, so the string can be printed and logged.</summary>
    public string ConnectionString(string database = DefaultDatabase) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = ProcessRunner.ServerUser,
        Database = database,
        Passfile = PasswordFile,
        IncludeErrorDetail = true,
    }.ConnectionString;

    /// <summary>libpq URL form (psql, pg_dump, TODOSCALE_DATABASE): passfile= names the password file instead of holding the password.</summary>
    public string Url(string database = DefaultDatabase) =>
        $"postgresql://{ProcessRunner.ServerUser}@127.0.0.1:{Port}/{Uri.EscapeDataString(database)}?passfile={Uri.EscapeDataString(PasswordFile).Replace("%2F", "/", StringComparison.Ordinal)}";

    public async Task<LocalClusterState> GetStateAsync(CancellationToken ct = default)
    {
        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            return LocalClusterState.NotCreated;
        }

        var (code, _) = await ProcessRunner.RunAsync(Binaries.PgCtl, ["status", "-D", DataDirectory], asServerUser: true, ct);
        return code == 0 ? LocalClusterState.Running : LocalClusterState.Stopped;
    }

    /// <summary>Creates the cluster if needed, starts it if stopped, and makes sure <paramref name="database"/> exists.</summary>
    public async Task StartAsync(string? database = DefaultDatabase, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Root);
        // Two CLI invocations starting the same folder at once must not both run initdb.
        await using (var folderLock = await AcquireFolderLockAsync(ct))
        {
            var state = await GetStateAsync(ct);
            if (state == LocalClusterState.NotCreated)
            {
                // Fail on a missing installation before touching any folder: that message names the package to install.
                _ = Binaries;
                await ChooseServerRootAsync(ct);
                // A relocated folder kept from before (its pointer file lost) already holds the cluster.
                state = await GetStateAsync(ct);
            }

            if (state == LocalClusterState.NotCreated)
            {
                await InitializeAsync(ct);
                state = LocalClusterState.Stopped;
            }

            var trust = PgHba.UsesTrust(HbaFile);
            if (!trust && !File.Exists(PasswordFile))
            {
                throw new LocalClusterException(LostPasswordMessage());
            }

            if (state == LocalClusterState.Stopped)
            {
                var port = ReadState()?.Port ?? 0;
                if (port == 0 || !IsPortFree(port))
                {
                    port = FindFreePort();
                }

                var socketArg = SocketDirectory.Length < 90 ? $" -k {SocketDirectory}" : " -k ''";
                for (var attempt = 1; ; attempt++)
                {
                    WriteState(new ClusterStateFile(port));
                    var logLength = LogLength();
                    try
                    {
                        // -t 300: on a busy machine (several clusters starting at once beside builds) a start can take
                        // more than pg_ctl's default minute, and a start given up on is a failure although the server
                        // would have come up.
                        await ProcessRunner.RunCheckedAsync(Binaries.PgCtl,
                            ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "300", "-o", $"-p {port}{socketArg}"],
                            asServerUser: true, ct, _options.ServerEnvironment?.Invoke(this));
                        break;
                    }
                    catch (LocalClusterException e)
                    {
                        var log = LogSince(logLength);
                        // The free port was taken by another process between the check and the bind (other clusters
                        // start at the same time): take another one rather than fail.
                        if (attempt < 3 && log.Contains("Address already in use", StringComparison.Ordinal))
                        {
                            port = FindFreePort();
                            continue;
                        }

                        throw new LocalClusterException($"{e.Message}\nserver log ({LogFile}):\n{log}");
                    }
                }
            }

            if (trust)
            {
                await ReplaceTrustAsync(ct);
            }
        }

        if (database is not null)
        {
            await EnsureDatabaseAsync(database, ct);
        }
    }

    private long LogLength()
    {
        try
        {
            return File.Exists(LogFile) ? new FileInfo(LogFile).Length : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // What the server wrote since `offset` (at most the last 4,000 characters): why a start failed, in the exception.
    private string LogSince(long offset)
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            var text = new StreamReader(stream).ReadToEnd();
            return text.Length > 4000 ? text[^4000..] : text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(unreadable: {e.Message})";
        }
    }

    public async Task StopAsync(CancellationToken ct = default)
    {
        if (await GetStateAsync(ct) == LocalClusterState.Running)
        {
            await ProcessRunner.RunCheckedAsync(Binaries.PgCtl, ["stop", "-D", DataDirectory, "-m", "fast", "-w"], asServerUser: true, ct);
        }
    }

    public async Task EnsureDatabaseAsync(string database, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(ConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", conn);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(ct) is null)
        {
            // Identifiers cannot be parameters; quote_ident on the server builds the statement safely.
            await using var create = new NpgsqlCommand("SELECT format('CREATE DATABASE %I', $1::text)", conn);
            create.Parameters.AddWithValue(database);
            var sql = (string)(await create.ExecuteScalarAsync(ct))!;
            await using var run = new NpgsqlCommand(sql, conn);
            await run.ExecuteNonQueryAsync(ct);
        }
    }

    private async Task InitializeAsync(CancellationToken ct)
    {
        await PrepareServerFoldersAsync(ct);
        await InitDbWithPasswordAsync(ct);

        var settings = new Dictionary<string, string>
        {
            ["listen_addresses"] = "'127.0.0.1'",
            ["max_connections"] = "200",
            ["shared_buffers"] = "'256MB'",
            ["timezone"] = "'UTC'",
            ["password_encryption"] = "'scram-sha-256'",
        };
        if (!_options.Durable)
        {
            settings["fsync"] = "off";
            settings["synchronous_commit"] = "off";
            settings["full_page_writes"] = "off";
        }

        foreach (var (k, v) in _options.Settings)
        {
            settings[k] = v;
        }

        await File.AppendAllLinesAsync(Path.Combine(DataDirectory, "postgresql.conf"),
            ["", "# TodoScale local cluster", .. settings.Select(kv => $"{kv.Key} = {kv.Value}")], ct);
    }

    private async Task<IAsyncDisposable> AcquireFolderLockAsync(CancellationToken ct)
    {
        var path = Path.Combine(Root, ".lock");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 600)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    private ClusterStateFile? ReadState() =>
        File.Exists(StateFile) ? JsonSerializer.Deserialize<ClusterStateFile>(File.ReadAllText(StateFile)) : null;

    private void WriteState(ClusterStateFile state) => File.WriteAllText(StateFile, JsonSerializer.Serialize(state));

    internal static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    internal static int FindFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record ClusterStateFile(int Port);
}
