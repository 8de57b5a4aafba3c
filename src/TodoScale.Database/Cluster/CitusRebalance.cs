using Npgsql;

namespace TodoScale.Database.Cluster;

/// <summary>Where a rebalance job is: shard-group moves done of all, and the bytes of the moves under way.</summary>
public sealed record RebalanceProgress(long JobId, string State, int MovesDone, int MovesTotal, long BytesCopied, long BytesToCopy, string? Error)
{
    public bool Finished => State is "finished" or "failed" or "cancelled";
}

/// <summary>Another rebalance of this database is still running (exit 5, as for any lock another instance holds).</summary>
public sealed class RebalanceBusyException(long jobId) : Exception(
    $"A rebalance is already running as background job {jobId}. Watch it with SELECT * FROM citus_rebalance_status(); " +
    "stop it with SELECT citus_rebalance_stop();")
{
    public long JobId { get; } = jobId;
}

/// <summary>
/// Citus's online rebalance: citus_rebalance_start() schedules one background task per shard-group move and returns;
/// each move copies by logical replication while the application keeps writing, and blocks writes to that shard group
/// only for the final catch-up. This watches the job through citus_job_status() until it ends.
/// </summary>
public static class CitusRebalance
{
    /// <summary>
    /// Starts a rebalance of <paramref name="connectionString"/>'s database and reports progress until it ends; null when
    /// nothing needs to move. Cancelling stops the watching only: the job goes on in the background, as Citus runs it.
    /// </summary>
    public static async Task<RebalanceProgress?> RunAsync(string connectionString, IProgress<RebalanceProgress>? progress = null,
        TimeSpan? pollInterval = null, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await CitusAvailability.RequireLoadedAsync(conn, ct);

        // Checked first for a clear exit 5: Citus's own refusal of a second job is a plain XX000 error.
        await using (var running = new NpgsqlCommand(
            "SELECT job_id FROM pg_dist_background_job WHERE job_type = 'rebalance' AND state NOT IN ('finished', 'failed', 'cancelled') ORDER BY job_id LIMIT 1", conn))
        {
            if (await running.ExecuteScalarAsync(ct) is long busy)
            {
                throw new RebalanceBusyException(busy);
            }
        }

        long jobId;
        await using (var start = new NpgsqlCommand("SELECT citus_rebalance_start()", conn))
        {
            // NULL (or 0) with a NOTICE "No moves available for rebalancing" when the shards are already even.
            if (await start.ExecuteScalarAsync(ct) is not long id || id == 0)
            {
                return null;
            }

            jobId = id;
        }

        var last = await ReadAsync(conn, jobId, ct);
        progress?.Report(last);
        while (!last.Finished)
        {
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), ct);
            last = await ReadAsync(conn, jobId, ct);
            progress?.Report(last);
        }

        return last;
    }

    /// <summary>One look at a rebalance job (Citus's citus_job_status with raw sizes).</summary>
    public static async Task<RebalanceProgress> ReadAsync(NpgsqlConnection conn, long jobId, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT s.state::text,
                   coalesce((s.details -> 'task_state_counts' ->> 'done')::int, 0),
                   (SELECT coalesce(sum(c.value::int), 0) FROM jsonb_each_text(s.details -> 'task_state_counts') c)::int,
                   (SELECT coalesce(sum((t -> 'size' ->> 'target')::bigint), 0) FROM jsonb_array_elements(s.details -> 'tasks') t WHERE t ->> 'state' = 'running')::bigint,
                   (SELECT coalesce(sum((t -> 'size' ->> 'source')::bigint), 0) FROM jsonb_array_elements(s.details -> 'tasks') t WHERE t ->> 'state' = 'running')::bigint,
                   (SELECT string_agg(t ->> 'message', '; ') FROM jsonb_array_elements(s.details -> 'tasks') t WHERE t ->> 'state' = 'error')
            FROM citus_job_status($1, raw => true) s
            """, conn);
        cmd.Parameters.AddWithValue(jobId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            throw new InvalidOperationException($"Citus has no background job {jobId}.");
        }

        return new RebalanceProgress(jobId, reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
            reader.IsDBNull(5) ? null : reader.GetString(5));
    }
}
