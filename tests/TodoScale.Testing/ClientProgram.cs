using System.Diagnostics;
using System.Globalization;
using Npgsql;
using TodoScale.Database.Connections;

namespace TodoScale.Testing;

/// <summary>Runs a PostgreSQL client program (psql, pg_dump) against the database a connection string names.</summary>
internal static class ClientProgram
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string program, string connectionString, IEnumerable<string> leadingArgs, IEnumerable<string> args)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in leadingArgs.Concat(["-h", cs.Host!, "-p", cs.Port.ToString(CultureInfo.InvariantCulture), "-U", cs.Username!, "-d", cs.Database!]).Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        // The built-in cluster's strings carry Passfile=, not a password: without PGPASSFILE the client would ask on a terminal nobody watches.
        foreach (var (k, v) in ConnectionStrings.LibpqCredentials(connectionString))
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
