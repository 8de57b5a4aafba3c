using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Connections;

namespace TodoScale.Testing;

/// <summary>Runs the real psql client, as operators do: psql -v ON_ERROR_STOP=1 -f FILE.</summary>
public static class Psql
{
    public static async Task<(int ExitCode, string Output)> RunFileAsync(PostgresBinaries binaries, string connectionString, string file)
        => await RunAsync(binaries, connectionString, ["-v", "ON_ERROR_STOP=1", "-f", file]);

    public static async Task<(int ExitCode, string Output)> RunCommandAsync(PostgresBinaries binaries, string connectionString, string sql)
        => await RunAsync(binaries, connectionString, ["-v", "ON_ERROR_STOP=1", "-c", sql]);

    private static async Task<(int ExitCode, string Output)> RunAsync(PostgresBinaries binaries, string connectionString, string[] args)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo(binaries.Psql)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-X", "-h", cs.Host!, "-p", cs.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", cs.Username!, "-d", cs.Database! }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        // The built-in cluster's strings carry Passfile=, not a password: without PGPASSFILE psql would ask on a terminal nobody watches.
        foreach (var (k, v) in ConnectionStrings.LibpqCredentials(connectionString))
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>The repository's migrations/scaling folder, found by walking up from the test binaries.</summary>
    public static string ScriptPath(string fileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "migrations", "scaling", fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"migrations/scaling/{fileName} not found above {AppContext.BaseDirectory}");
    }
}
