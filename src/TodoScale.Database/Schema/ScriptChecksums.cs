using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace TodoScale.Database.Schema;

/// <summary>
/// Which journalled scripts changed since they were applied. DbUp journals names only, so a database migrated by
/// an earlier version would never get a script's new functions (the archival guard of 003, the lock bound of 002).
/// Before DbUp runs, the journal rows of changed scripts, and of scripts applied before checksums were kept, are
/// removed, so DbUp applies them again (each script is idempotent); after a successful run every journalled
/// script's checksum is recorded.
/// </summary>
internal static class ScriptChecksums
{
    public static string Of(string scriptName) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ScalingScripts.Read(scriptName))));

    /// <summary>Journalled scripts whose recorded content differs from (or predates) the embedded one.</summary>
    public static async Task<IReadOnlyList<string>> ChangedAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var changed = new List<string>();
        if (!await ExistsAsync(conn, SchemaMigrator.JournalTable, ct))
        {
            return changed;
        }

        // Read-only (db status calls it too): without the checksum table every journalled script predates it.
        await using var cmd = new NpgsqlCommand(await ExistsAsync(conn, "todoscale_schema_checksums", ct)
            ? "SELECT v.scriptname, c.sha256 FROM todoscale_schema_versions v LEFT JOIN todoscale_schema_checksums c ON c.scriptname = v.scriptname"
            : "SELECT v.scriptname, NULL::text FROM todoscale_schema_versions v", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var name = reader.GetString(0);
            if (ScalingScripts.Names.Contains(name) && (reader.IsDBNull(1) || reader.GetString(1) != Of(name)))
            {
                changed.Add(name);
            }
        }

        return changed;
    }

    /// <summary>Makes DbUp see the changed scripts as pending.</summary>
    public static async Task ForgetAsync(NpgsqlConnection conn, IReadOnlyList<string> scripts, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM todoscale_schema_versions WHERE scriptname = ANY ($1)", conn);
        cmd.Parameters.AddWithValue(scripts.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records the current checksum of every script the journal lists.</summary>
    public static async Task RecordAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await EnsureTableAsync(conn, ct);
        var names = ScalingScripts.Names.ToArray();
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO todoscale_schema_checksums (scriptname, sha256)
            SELECT n.name, n.sha256 FROM unnest($1::text[], $2::text[]) AS n(name, sha256)
            WHERE n.name IN (SELECT scriptname FROM todoscale_schema_versions)
            ON CONFLICT (scriptname) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()
            WHERE todoscale_schema_checksums.sha256 IS DISTINCT FROM EXCLUDED.sha256
            """, conn);
        cmd.Parameters.AddWithValue(names);
        cmd.Parameters.AddWithValue(names.Select(Of).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task EnsureTableAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        using var stream = typeof(ScriptChecksums).Assembly.GetManifestResourceStream("TodoScale.Schema.schema_checksums.sql")!;
        using var reader = new StreamReader(stream);
        await using var cmd = new NpgsqlCommand(await reader.ReadToEndAsync(ct), conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection conn, string table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", conn);
        cmd.Parameters.AddWithValue(table);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
