using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;
using TodoScale.Simulation.LegacyWriters;

namespace TodoScale.Benchmarks;

/// <summary>
/// One measurement of the migration (one variant of `todoscale bench migration`; <see cref="MigrationBench"/> prepares
/// the databases and runs one per variant), all in one run on one database that holds a legacy todos table and the
/// applied schema: the writers alone (their idle latency), the offline single-statement copy, then under the same
/// writers the fixed baseline (today's settings: fixed batches, no signals) and the batch engine's adaptive run, and a
/// run in which an application transaction holds a user the copy needs (the engine splits and retries). Destructive
/// for the new tables.
/// </summary>
public static class MigrationMeasurement
{
    public static async Task<MigrationMeasurementResult> RunAsync(
        string connectionString, MigrationMeasurementOptions options, Action<string>? log = null, CancellationToken ct = default)
    {
        var migration = new LegacyMigration(connectionString);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        if (options.LegacyParentIndex)
        {
            log?.Invoke("CREATE INDEX CONCURRENTLY todos_parent_todo_id_idx");
            await TimeAsync(conn, "CREATE INDEX CONCURRENTLY IF NOT EXISTS todos_parent_todo_id_idx ON todos (parent_todo_id)", ct);
        }

        log?.Invoke($"writers alone for {options.WriterBaselineDuration.TotalSeconds:N0} s");
        await CheckpointAsync(conn, log, ct);
        var alone = await new LegacyWriterSimulator(connectionString, Writers(options) with { Duration = options.WriterBaselineDuration }).RunAsync(ct);
        var rows = await CountLegacyRowsAsync(conn, ct);

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

        // The writers again, with the mirror trigger on and no copy running: every legacy write now also writes its
        // copy, a cost of any trigger-synchronised live migration. The runs' p99 against this one is the copy's own.
        // Before the indexes are built: the live runs' writers write into tables whose indexes are deferred too.
        var withTrigger = await PreparedWritersAsync("writers with the mirror trigger, no copy");

        // The single statement's peer of the deferred indexes: the bulk-load order (data, then indexes), built plainly,
        // which offline is faster than concurrently. migration_start() dropped them, as for the live runs, and paused
        // 009's archive bookkeeping, which the live runs rebuild after their backfill with the same plan as here.
        log?.Invoke("secondary indexes and the archive's bookkeeping after the single statement");
        var singleIndexes = await TimeAsync(conn, """
            SELECT todoscale_ensure_partitioned_index(d.parent_table::regclass, d.index_name, d.definition)
            FROM todoscale_migration_secondary_indexes() d
            """, ct);
        var bookkeeping = Stopwatch.StartNew();
        await new PlanRunner(connectionString).RunAsync(["SELECT stmt FROM todoscale_archive_bookkeeping_plan() ORDER BY step"], ct);
        // The statistics the live runs' plan ends with.
        await using (var analyze = new NpgsqlCommand("SELECT todoscale_migration_analyze_statement()", conn))
        {
            await TimeAsync(conn, (string)(await analyze.ExecuteScalarAsync(ct))!, ct);
        }
        singleIndexes += bookkeeping.Elapsed;

        var runs = new List<MigrationLiveRun>();
        // Today's settings: fixed batches, no pause, no signals (as before the engine).
        runs.Add(await LiveRunAsync(connectionString, conn, options, MigrationLiveRun.Fixed,
            new MigrationRunOptions { BatchSize = options.BatchSize, Engine = new BatchEngineOptions { Signals = false } }, null, log, ct));
        runs.Add(await LiveRunAsync(connectionString, conn, options, MigrationLiveRun.Adaptive,
            new MigrationRunOptions { Engine = new BatchEngineOptions { Target = options.Target } }, null, log, ct));
        var sw = Stopwatch.StartNew();
        var checks = await migration.ValidateAsync(ct);
        sw.Stop();

        // Three phases in the state the adaptive run left (everything built), each prepared as every phase after the
        // first is: the mirror writing every index of the new tables and 009's
        // bookkeeping, as until cutover however long the operator waits; no trigger at all, the writers' own latency in
        // this state (the database is twice its size by now); and the trigger's own share, each write recording only its
        // key with nothing applying the changes (not shipped).
        LegacyWriterReport untilCutover, afterBuildAlone, changeLog;
        try
        {
            untilCutover = await PreparedWritersAsync("writers with the mirror trigger after the build, no copy");
            await TimeAsync(conn, "SELECT todoscale_drop_todos_trigger('todoscale_mirror')", ct);
            afterBuildAlone = await PreparedWritersAsync("writers without any trigger after the build");
            await TimeAsync(conn, BenchRunner.EmbeddedSql("migration_change_log_floor.sql"), ct);
            changeLog = await PreparedWritersAsync("writers with a key-only change log in place of the mirror");
        }
        finally
        {
            await TimeAsync(conn, BenchRunner.EmbeddedSql("migration_change_log_floor_off.sql"), CancellationToken.None);
            if (options.HoldFor <= TimeSpan.Zero)
            {
                // The new tables missed the writes of the last two phases: nothing left half-synchronised behind.
                await migration.RollbackAsync(dropNewTables: false, CancellationToken.None);
            }
        }

        if (options.HoldFor > TimeSpan.Zero)
        {
            var held = await LiveRunAsync(connectionString, conn, options, MigrationLiveRun.Held,
                new MigrationRunOptions { Engine = new BatchEngineOptions { Target = options.Target } }, options.HoldFor, log, ct);
            runs.Add(held with { Checks = await migration.ValidateAsync(ct) });
        }

        return new MigrationMeasurementResult(rows, single, sw.Elapsed, alone, withTrigger, runs, checks)
        {
            SingleStatementIndexBuild = singleIndexes, WritersUntilCutover = untilCutover, WritersAfterBuildAlone = afterBuildAlone,
            WritersWithChangeLog = changeLog,
        };

        // Every phase whose writers are measured after the first starts from the same state of the legacy table and WAL.
        async Task<LegacyWriterReport> PreparedWritersAsync(string what)
        {
            await TimeAsync(conn, "VACUUM ANALYZE todos", ct);
            await CheckpointAsync(conn, log, ct);
            log?.Invoke($"{what}, for {options.WriterBaselineDuration.TotalSeconds:N0} s");
            return await new LegacyWriterSimulator(connectionString, Writers(options) with { Duration = options.WriterBaselineDuration }).RunAsync(ct);
        }
    }

    /// <summary>
    /// One copy while the writers write: rolls the new tables back to empty first. With <paramref name="hold"/>, an
    /// application transaction holds (FOR UPDATE) a user that the writers never touch, whose 30 legacy todos are spread
    /// over the key range: every batch reaching one of them needs a key-share lock on that user (the new tables'
    /// foreign key), times out and is split, until the transaction commits. Writers' latency then shows whether
    /// anyone waited on the migration meanwhile.
    /// </summary>
    private static async Task<MigrationLiveRun> LiveRunAsync(
        string cs, NpgsqlConnection conn, MigrationMeasurementOptions options, string name, MigrationRunOptions run, TimeSpan? hold,
        Action<string>? log, CancellationToken ct)
    {
        var migration = new LegacyMigration(cs);
        await migration.RollbackAsync(dropNewTables: false, ct);
        await TimeAsync(conn, "VACUUM ANALYZE todos", ct);
        await CheckpointAsync(conn, log, ct);
        log?.Invoke(name);
        using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writers = new LegacyWriterSimulator(cs, Writers(options));
        var writing = writers.RunAsync(stopWriters.Token);
        // The writers pick their users when they start; the held user is created after that.
        while (writers.OperationsSoFar == 0 && !writing.IsCompleted)
        {
            await Task.Delay(10, ct);
        }

        NpgsqlConnection? holder = null;
        Task? release = null;
        // The hold counts from the first batch: the preflight and the start before it take seconds on a large table.
        var copying = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (hold is { } holdFor)
        {
            var user = (Guid)(await ScalarAsync(conn, "INSERT INTO users (email) VALUES ('held-by-a-long-transaction-' || gen_random_uuid() || '@example.com') RETURNING id", ct))!;
            await using (var insert = new NpgsqlCommand(
                "INSERT INTO todos (user_id, title, status) SELECT $1, 'held ' || g, 'todo' FROM generate_series(1, 30) g", conn))
            {
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = user });
                await insert.ExecuteNonQueryAsync(ct);
            }

            holder = new NpgsqlConnection(cs);
            await holder.OpenAsync(ct);
            var holding = await holder.BeginTransactionAsync(ct);
            await using (var lockUser = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", holder, holding))
            {
                lockUser.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = user });
                await lockUser.ExecuteNonQueryAsync(ct);
            }

            release = CommitLaterAsync(holding, copying.Task, holdFor, ct);
        }

        await using var waits = new MigrationWaitSampler(cs);
        try
        {
            waits.Start();
            var result = await new MigrationRunner(cs).RunAsync(run, new FirstReport(copying), ct);
            // The build of the deferred indexes and bookkeeping is the run's last part: the writers' statements from
            // here back to its start waited on it, not on the batches.
            var buildStarted = Stopwatch.GetTimestamp() - (long)(result.IndexBuild.TotalSeconds * Stopwatch.Frequency);
            var longestWait = await waits.StopAsync();
            await stopWriters.CancelAsync();
            var during = await writing;
            if (release is not null)
            {
                await release;
            }

            return new MigrationLiveRun(name, result, during) { LongestWaitOnMigrationMs = longestWait, BuildStarted = buildStarted };
        }
        finally
        {
            if (holder is not null)
            {
                await holder.DisposeAsync();
            }
        }
    }

    private static async Task CommitLaterAsync(NpgsqlTransaction tx, Task copying, TimeSpan after, CancellationToken ct)
    {
        await copying.WaitAsync(ct);
        await Task.Delay(after, ct);
        await tx.CommitAsync(CancellationToken.None);
    }

    private sealed class FirstReport(TaskCompletionSource copying) : IProgress<MigrationProgress>
    {
        public void Report(MigrationProgress value) => copying.TrySetResult();
    }

    private static LegacyWriterOptions Writers(MigrationMeasurementOptions o) =>
        new() { Connections = o.WriterConnections, ThinkTime = o.WriterThinkTime, Seed = 99 };

    private static async Task<long> CountLegacyRowsAsync(NpgsqlConnection conn, CancellationToken ct) =>
        (long)(await ScalarAsync(conn, "SELECT count(*) FROM todos", ct))!;

    private static async Task<object?> ScalarAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        return await cmd.ExecuteScalarAsync(ct);
    }

    /// <summary>
    /// Every phase whose writers are measured starts from a checkpoint: otherwise one phase pays the full-page images
    /// and the spread checkpoint of the bulk write before it and the next does not (the server log of the 22:34 run of
    /// 2026-12-04 shows checkpoints requested by WAL volume back to back, one per ~540 MB, through the copies). Needs
    /// superuser or pg_checkpoint; without it the phases start as they come.
    /// </summary>
    private static async Task CheckpointAsync(NpgsqlConnection conn, Action<string>? log, CancellationToken ct)
    {
        try
        {
            await TimeAsync(conn, "CHECKPOINT", ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            log?.Invoke($"no CHECKPOINT before the phase: {e.MessageText}");
        }
    }

    private static async Task<TimeSpan> TimeAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        var sw = Stopwatch.StartNew();
        await cmd.ExecuteNonQueryAsync(ct);
        return sw.Elapsed;
    }
}
