using Npgsql;

namespace TodoScale.Database.Cluster;

/// <summary>One standby as the primary sees it: a row of <c>replication_status()</c> (migrations/scaling/008_replication.sql).</summary>
public sealed record StandbyReplication(
    string Standby, string State, string? SlotName, bool? SlotActive, decimal? ReplayLagBytes, decimal? ReplayLagSeconds,
    decimal? RetainedWalBytes, string Status);

public static class ReplicationStatus
{
    public const string Sql = "SELECT standby, state, slot_name, slot_active, replay_lag_bytes, replay_lag_seconds, retained_wal_bytes, status FROM replication_status()";

    /// <summary>The standbys of the database's server; empty when it has none, or when 008 is not applied (no function to ask).</summary>
    public static async Task<IReadOnlyList<StandbyReplication>> ReadAsync(string connectionString, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(Sql, conn);
        try
        {
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var rows = new List<StandbyReplication>();
            while (await r.ReadAsync(ct))
            {
                rows.Add(new StandbyReplication(
                    r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetBoolean(3),
                    r.IsDBNull(4) ? null : r.GetDecimal(4), r.IsDBNull(5) ? null : r.GetDecimal(5), r.IsDBNull(6) ? null : r.GetDecimal(6),
                    r.GetString(7)));
            }

            return rows;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedFunction)
        {
            return [];
        }
    }
}
