using Npgsql;

namespace TodoScale.Database.Cluster;

/// <summary>
/// Citus is missing: not installed with the server programs, or installed but not loaded by a server
/// (shared_preload_libraries). The CLI answers it like a missing PostgreSQL: one clear line and exit 4.
/// </summary>
public sealed class CitusNotAvailableException(string message) : Exception(message);

/// <summary>Whether Citus can be used: by the local server programs (before a node is created) or by a running server.</summary>
public static class CitusAvailability
{
    public const string InstallHint =
        "Install Citus for this PostgreSQL (the Citus project's packages, e.g. postgresql-15-citus-13.2; in this project's CI, shared/citus/install.sh).";

    /// <summary>
    /// Checked before a node is created or reconfigured: a postgresql.conf that preloads a citus.so that is not there
    /// makes pg_ctl fail with a server log nobody reads, and leaves a folder that never starts.
    /// </summary>
    public static async Task RequireInstalledAsync(PostgresBinaries binaries, CancellationToken ct = default)
    {
        var (libDir, shareDir) = await InstallationFoldersAsync(binaries, ct);
        var library = Path.Combine(libDir, "citus.so");
        var control = Path.Combine(shareDir, "extension", "citus.control");
        if (!File.Exists(library) || !File.Exists(control))
        {
            throw new CitusNotAvailableException(
                $"Citus is not installed for the PostgreSQL in {binaries.Directory} ({(File.Exists(library) ? control : library)} is missing). {InstallHint}");
        }
    }

    /// <summary>
    /// A running server that should act as a Citus node: refuses one that cannot load Citus, naming what is missing,
    /// before any statement would fail with "function citus_add_node does not exist" or a worker half registered.
    /// </summary>
    public static async Task RequireLoadedAsync(NpgsqlConnection conn, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT current_setting('shared_preload_libraries'), EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus')", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var preload = reader.GetString(0);
        var available = reader.GetBoolean(1);
        var where = $"PostgreSQL at {conn.Host}:{conn.Port}";
        if (!available)
        {
            throw new CitusNotAvailableException($"{where} has no Citus extension installed. {InstallHint}");
        }

        if (!preload.Split(',', StringSplitOptions.TrimEntries).Contains("citus"))
        {
            throw new CitusNotAvailableException(
                $"{where} does not load Citus (shared_preload_libraries = '{preload}'). Add citus first in shared_preload_libraries " +
                "(and wal_level = logical for online shard moves) in its postgresql.conf and restart it.");
        }
    }

    private static async Task<(string LibDir, string ShareDir)> InstallationFoldersAsync(PostgresBinaries binaries, CancellationToken ct)
    {
        var pgConfig = Path.Combine(binaries.Directory, "pg_config");
        if (File.Exists(pgConfig))
        {
            var (code, output) = await ProcessRunner.RunAsync(pgConfig, ["--pkglibdir", "--sharedir"], asServerUser: false, ct);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (code == 0 && lines.Length == 2)
            {
                return (lines[0], lines[1]);
            }
        }

        // Debian's layout: /usr/lib/postgresql/15/{bin,lib}, /usr/share/postgresql/15.
        var versionDir = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(binaries.Directory))!;
        return (Path.Combine(versionDir, "lib"), Path.Combine("/usr/share/postgresql", Path.GetFileName(versionDir)));
    }
}
