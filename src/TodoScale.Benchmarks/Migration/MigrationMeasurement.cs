using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Migration;
using TodoScale.Simulation.LegacyWriters;

namespace TodoScale.Benchmarks;

/// <summary>
/// One measurement of the migration (one variant of `todoscale bench migration`; <see cref="MigrationBench"/> prepares
/// the databases and runs one per variant). The migration's figures on one database that holds a legacy todos table and the applied schema, all in
/// one run: the offline single-statement copy, the batched copy without and with a simulated application
/// writing, and that application's latency without and during the migration. Destructive for the new tables.
/// </summary>
public static class MigrationMeasurement
{
    public static async Task<MigrationMeasurementResult> RunAsync(
        string connectionString, MigrationMeasurementOptions options, Action<string>? log = null, CancellationToken ct = default)
    {
        var migration = new LegacyMigration(connectionString);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        var rows = await CountLegacyRowsAsync(conn, ct);
        if (options.LegacyParentIndex)
        {
            log?.Invoke("CREATE INDEX CONCURRENTLY todos_parent_todo_id_idx");
            await TimeAsync(conn, "CREATE INDEX CONCURRENTLY IF NOT EXISTS todos_parent_todo_id_idx ON todos (parent_todo_id)", ct);
        }

        log?.Invoke($"writers alone for {options.WriterBaselineDuration.TotalSeconds:N0} s");
        var alone = await new LegacyWriterSimulator(connectionString, Writers(options) with { Duration = options.WriterBaselineDuration }).RunAsync(ct);
        rows = await CountLegacyRowsAsync(conn, ct);

        // Same archive partitions and indexes for both paths: migration_start creates the months, then the
        // single statement copies with the same placement rule the batches use.
        await migration.StartAsync(ct);
        await TimeAsync(conn, "VACUUM ANALYZE todos", ct);
        log?.Invoke("single INSERT ... SELECT");
        var single = await TimeAsync(conn, """
            WITH src AS (
                SELECT t.*, (t.status = 'done' AND t.completed_at < (SELECT archive_cutoff FROM migration_state)) IS TRUE AS archive
                FROM todos t
            ), ins_active AS (
                INSERT INTO todos_active (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                          due_date, completed_at, ai_generated, created_at, updated_at)
                SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                       due_date, completed_at, ai_generated, created_at, updated_at FROM src WHERE NOT archive
            )
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at FROM src WHERE archive
            """, ct);
        await migration.RollbackAsync(dropNewTables: false, ct);
        await TimeAsync(conn, "VACUUM ANALYZE todos", ct);

        log?.Invoke("batched, no writers");
        var quiet = await new MigrationRunner(connectionString).RunAsync(new MigrationRunOptions { BatchSize = options.BatchSize }, ct: ct);
        await migration.RollbackAsync(dropNewTables: false, ct);
        await TimeAsync(conn, "VACUUM ANALYZE todos", ct);

        log?.Invoke("batched, with writers");
        using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writers = new LegacyWriterSimulator(connectionString, Writers(options));
        var writing = writers.RunAsync(stopWriters.Token);
        var live = await new MigrationRunner(connectionString).RunAsync(new MigrationRunOptions { BatchSize = options.BatchSize }, ct: ct);
        await stopWriters.CancelAsync();
        var during = await writing;

        log?.Invoke("validate");
        var sw = Stopwatch.StartNew();
        var checks = await migration.ValidateAsync(ct);
        sw.Stop();
        return new MigrationMeasurementResult(rows, single, quiet.Elapsed, live.Elapsed, sw.Elapsed, alone, during, checks, live.Retries);
    }

    private static LegacyWriterOptions Writers(MigrationMeasurementOptions o) =>
        new() { Connections = o.WriterConnections, ThinkTime = o.WriterThinkTime, Seed = 99 };

    private static async Task<long> CountLegacyRowsAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM todos", conn) { CommandTimeout = 0 };
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private static async Task<TimeSpan> TimeAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        var sw = Stopwatch.StartNew();
        await cmd.ExecuteNonQueryAsync(ct);
        return sw.Elapsed;
    }
}
