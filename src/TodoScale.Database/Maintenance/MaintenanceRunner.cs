using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Database.Maintenance;

/// <summary>
/// Runs the maintenance SQL functions that 003_create_maintenance_jobs.sql installs (from the files it includes,
/// migrations/scaling/maintenance/*.sql) and those of 006_cluster_partitions.sql, and what they cannot do
/// themselves (VACUUM cannot run inside a function or transaction): after a daily run, VACUUM (ANALYZE) of the
/// partitions archival deleted from and inserted into; after a cluster run (alone or at the end of the weekly
/// run), VACUUM of the partitions it rewrote.
/// </summary>
public sealed class MaintenanceRunner(string connectionString)
{
    public Task<MaintenanceRun> RunDailyAsync(CancellationToken ct = default) => RunAsync(MaintenanceJob.Daily, ct);

    /// <summary>run_weekly_maintenance(), then cluster_partitions() with the thresholds in maintenance_settings.</summary>
    public Task<MaintenanceRun> RunWeeklyAsync(CancellationToken ct = default) => RunAsync(MaintenanceJob.Weekly, ct);

    /// <summary>
    /// CALL cluster_partitions() alone: CLUSTER (one partition per transaction) of every todos_active
    /// partition and closed todos_archived month whose order by user has decayed, then VACUUM of those.
    /// </summary>
    public Task<MaintenanceRun> RunClusterAsync(ClusterOptions? options = null, CancellationToken ct = default) =>
        RunAsync(MaintenanceJob.Cluster, options, ct);

    public Task<MaintenanceRun> RunAsync(MaintenanceJob job, CancellationToken ct = default) => RunAsync(job, null, ct);

    private async Task<MaintenanceRun> RunAsync(MaintenanceJob job, ClusterOptions? cluster, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);

        // Held for the whole run, VACUUM included, so a second instance starting right after the SQL
        // function commits does not archive and vacuum in parallel with this one. The SQL function takes
        // the same lock per transaction (a session never conflicts with itself); when another session
        // holds it, the function records and returns a SKIPPED step instead of waiting.
        _ = await ScalarAsync<bool>(conn, "SELECT pg_try_advisory_lock(todoscale_maintenance_lock_key())", ct);
        try
        {
            if (job == MaintenanceJob.Cluster)
            {
                return await ClusterAsync(conn, cluster ?? new ClusterOptions(), ct);
            }

            var steps = new List<MaintenanceStep>();
            var sql = job == MaintenanceJob.Daily
                ? "SELECT step, status, rows_affected, duration_ms, detail FROM run_daily_maintenance()"
                : "SELECT step, status, rows_affected, duration_ms, detail FROM run_weekly_maintenance()";
            await using (var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 })
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    steps.Add(new MaintenanceStep(reader.GetString(0), reader.GetString(1), reader.GetInt64(2),
                        reader.GetDecimal(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
                }
            }

            var runIdText = await ScalarAsync<string?>(conn, "SELECT current_setting('todoscale.maintenance_run_id', true)", ct);
            long? runId = long.TryParse(runIdText, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;
            var run = new MaintenanceRun(job, runId, steps);
            if (job == MaintenanceJob.Daily && !run.Skipped && runId is { } history)
            {
                steps.Add(await VacuumAsync(conn, history, "SELECT maintenance_vacuum_statement($1)", ct));
            }

            // The weekly statistics just refreshed the correlations cluster_partitions() decides by. Same
            // connection, so the maintenance lock is held from the first step to the last VACUUM and no
            // other instance's daily run slips in between.
            if (job == MaintenanceJob.Weekly && !run.Skipped)
            {
                run = run with { Cluster = await ClusterAsync(conn, new ClusterOptions(), ct) };
            }

            return run;
        }
        finally
        {
            if (conn.State == System.Data.ConnectionState.Open)
            {
                // unlock_all, not unlock: a cluster_partitions() interrupted between its own lock and unlock
                // leaves a hold on this session, and a pooled connection keeping it would make every later
                // maintenance run of every instance report SKIPPED. Only this run's connection is affected.
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", conn);
                await unlock.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
    }

    // CALL outside any transaction: the procedure commits after every partition, which it cannot do
    // inside a transaction block (and must, so that only one partition is locked at a time).
    private static async Task<MaintenanceRun> ClusterAsync(NpgsqlConnection conn, ClusterOptions options, CancellationToken ct)
    {
        long runId;
        await using (var call = new NpgsqlCommand(
            "CALL cluster_partitions(min_correlation => $1, lock_timeout_ms => $2)", conn) { CommandTimeout = 0 })
        {
            call.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Numeric, Value = (object?)options.MinCorrelation ?? DBNull.Value });
            call.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)options.LockTimeoutMs ?? DBNull.Value });
            runId = (long)(await call.ExecuteScalarAsync(ct))!;
        }

        var steps = new List<MaintenanceStep>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT step, status, rows_affected, duration_ms, detail FROM todoscale_maintenance_steps($1)", conn))
        {
            cmd.Parameters.AddWithValue(runId);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                steps.Add(new MaintenanceStep(reader.GetString(0), reader.GetString(1), reader.GetInt64(2),
                    reader.GetDecimal(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        var run = new MaintenanceRun(MaintenanceJob.Cluster, runId, steps);
        if (!run.Skipped)
        {
            // CLUSTER leaves the visibility map empty: without this VACUUM the dashboard's index-only
            // scans would read the heap of every clustered partition until autovacuum came by.
            steps.Add(await VacuumAsync(conn, runId, "SELECT cluster_vacuum_statement($1)", ct));
        }

        return run;
    }

    public async Task<IReadOnlyList<HealthCheck>> CheckHealthAsync(CancellationToken ct = default)
    {
        var checks = new List<HealthCheck>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT check_name, status, detail FROM check_partition_health()", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            checks.Add(new HealthCheck(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return checks;
    }

    public async Task<IReadOnlyList<PartitionStatistics>> GetPartitionStatisticsAsync(CancellationToken ct = default)
    {
        var rows = new List<PartitionStatistics>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT partition_name, parent_table, row_estimate, dead_rows, size_mb, last_vacuum, last_analyze
            FROM get_partition_statistics() ORDER BY parent_table, partition_name
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new PartitionStatistics(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetDecimal(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return rows;
    }

    public async Task<IReadOnlyList<IndexUsage>> GetIndexUsageAsync(CancellationToken ct = default)
    {
        var rows = new List<IndexUsage>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT index_name, table_name, index_scans, size_mb, tuples_read FROM get_index_usage_stats() ORDER BY table_name, index_name", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new IndexUsage(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetDecimal(3), reader.GetInt64(4)));
        }

        return rows;
    }

    // The statement comes from maintenance_vacuum_statement() or cluster_vacuum_statement(), which quote
    // the partition names in SQL. The step is recorded in the run's history like the SQL steps, so a
    // VACUUM failure is not silent.
    private static async Task<MaintenanceStep> VacuumAsync(NpgsqlConnection conn, long runId, string statementSql, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        string? statement;
        await using (var cmd = new NpgsqlCommand(statementSql, conn))
        {
            cmd.Parameters.AddWithValue(runId);
            statement = await cmd.ExecuteScalarAsync(ct) as string;
        }

        MaintenanceStep step;
        if (statement is null)
        {
            step = new MaintenanceStep("vacuum", MaintenanceStep.Ok, 0, 0, "no partition changed: nothing to vacuum");
        }
        else
        {
            var relations = statement.Split(", ").Length;
            try
            {
                await using var vacuum = new NpgsqlCommand(statement, conn) { CommandTimeout = 0 };
                await vacuum.ExecuteNonQueryAsync(ct);
                step = new MaintenanceStep("vacuum", MaintenanceStep.Ok, relations, Elapsed(clock), statement);
            }
            catch (PostgresException e)
            {
                step = new MaintenanceStep("vacuum", MaintenanceStep.Failed, 0, Elapsed(clock), $"{e.SqlState}: {e.MessageText}");
            }
        }

        await using (var record = new NpgsqlCommand(
            "SELECT todoscale_record_maintenance_step($1, $2, $3, $4, $5, $6, $7, '{}', $8)", conn))
        {
            var failed = step.Status == MaintenanceStep.Failed;
            record.Parameters.AddWithValue(runId);
            record.Parameters.AddWithValue(step.Step);
            record.Parameters.AddWithValue(step.Status);
            record.Parameters.AddWithValue(step.RowsAffected);
            record.Parameters.AddWithValue(started);
            record.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = failed ? DBNull.Value : (object?)step.Detail ?? DBNull.Value });
            record.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = failed ? (object?)step.Detail ?? DBNull.Value : DBNull.Value });
            record.Parameters.AddWithValue(step.DurationMs);
            await record.ExecuteNonQueryAsync(ct);
        }

        return step;
    }

    private static decimal Elapsed(Stopwatch clock) => Math.Round((decimal)clock.Elapsed.TotalMilliseconds, 1);

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync(ct);
        return value is DBNull or null ? default! : (T)value;
    }
}
