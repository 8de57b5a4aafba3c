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
        var (code, stdout, stderr) = await ClientProgram.RunAsync(binaries.PgDump, connectionString, ["--schema-only", "--no-password"], options);
        if (code != 0)
        {
            throw new InvalidOperationException($"pg_dump of {new NpgsqlConnectionStringBuilder(connectionString).Database} exited {code}: {stderr}");
        }

        return string.Join('\n', stdout.Split('\n')
            .Where(l => !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)));
    }
}
