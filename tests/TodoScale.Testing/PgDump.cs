using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;

namespace TodoScale.Testing;

/// <summary>Runs the real pg_dump, for tests that compare what two databases ended up with.</summary>
public static class PgDump
{
    /// <summary>
    /// <c>pg_dump --schema-only</c> of the database, without the lines that differ between any two dumps: pg_dump
    /// releases since August 2025 wrap the dump in <c>\restrict KEY</c> / <c>\unrestrict KEY</c> with a random key.
    /// </summary>
    public static async Task<string> SchemaAsync(PostgresBinaries binaries, string connectionString, params string[] options)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo(binaries.PgDump)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--schema-only", "--no-password", "-h", cs.Host!, "-p", cs.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", cs.Username!, "-d", cs.Database! }.Concat(options))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in TodoScale.Database.Connections.ConnectionStrings.LibpqCredentials(connectionString))
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_dump of {cs.Database} exited {p.ExitCode}: {await stderr}");
        }

        return string.Join('\n', (await stdout).Split('\n')
            .Where(l => !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)));
    }
}
