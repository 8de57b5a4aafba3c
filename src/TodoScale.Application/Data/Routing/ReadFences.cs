using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// Read-your-writes fences (migrations/scaling/008_replication.sql): after a user's write the API records the
/// primary's WAL position for that user; before a read it fetches it and reads from a standby only when that
/// standby has replayed at least that far. Both calls go to the primary, the one place every API instance shares
/// and that is never behind, so the guarantee holds whichever instance serves the next request and whether or not
/// the client keeps cookies. The lookup is one primary-key read of a small table (a prepared statement): the cost
/// is one extra round trip per read, measured in docs/scale-out.md (read replicas). It reads only the requesting user's row,
/// so one user's writes never send another user's reads to the primary.
/// </summary>
public sealed class ReadFences(NpgsqlDataSource primary)
{
    // set_config(..., true): for this statement's own transaction only, which commits right after it.
    public const string RecordSql = "SELECT replica_record_write($1), set_config('synchronous_commit', 'off', true)";
    public const string FenceSql = "SELECT replica_read_fence($1)";

    /// <summary>
    /// Records the fence without waiting for its own WAL flush (synchronous_commit off for this one transaction): other
    /// sessions see the row at commit either way, which is all read-your-writes needs, and a second flush per write
    /// doubled the write's commit cost (pgbench on the durable built-in primary: 4.0 ms per fence with the flush).
    /// A fence lost in a primary crash only matters for WAL the standbys have not received yet, and they receive only
    /// flushed WAL: the user's write is either on the standby after it reconnects, or behind the crash like the fence.
    /// </summary>
    public async Task<ulong> RecordWriteAsync(Guid userId, CancellationToken ct = default)
    {
        await using var cmd = primary.CreateCommand(RecordSql);
        cmd.Parameters.Add(new NpgsqlParameter { Value = userId, NpgsqlDbType = NpgsqlDbType.Uuid });
        return (ulong)(NpgsqlLogSequenceNumber)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>The user's fence, or null when the user never wrote through an API with standbys.</summary>
    public async Task<ulong?> GetFenceAsync(Guid userId, CancellationToken ct = default)
    {
        await using var cmd = primary.CreateCommand(FenceSql);
        cmd.Parameters.Add(new NpgsqlParameter { Value = userId, NpgsqlDbType = NpgsqlDbType.Uuid });
        return await cmd.ExecuteScalarAsync(ct) is NpgsqlLogSequenceNumber lsn ? (ulong)lsn : null;
    }
}
