using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Schema;

namespace TodoScale.Database.Migration;

/// <summary>How `todoscale migrate run` (and the demo) drive the backfill.</summary>
public sealed record MigrationRunOptions
{
    /// <summary>
    /// Rows per batch. Null (the default): the batch engine sizes every batch to take <see cref="BatchEngineOptions.Target"/>.
    /// Set (or <see cref="Throttle"/> set): every batch this size (5,000 with only a throttle), adaptation off.
    /// </summary>
    public int? BatchSize { get; init; }

    /// <summary>Stop after this many batches in this run (null: until done). Running again resumes.</summary>
    public int? MaxBatches { get; init; }

    /// <summary>Pause between batches, to leave the server to the application. Set: adaptation off.</summary>
    public TimeSpan? Throttle { get; init; }

    /// <summary>Target duration, bounds and health signals of the batch engine.</summary>
    public BatchEngineOptions Engine { get; init; } = new();

    /// <summary>How often one step is retried after a deadlock, serialization failure or lock timeout outside the batch itself.</summary>
    public int MaxAttemptsPerBatch { get; init; } = 20;

    /// <summary>
    /// End the sessions that hold the migration lock (a run whose client was killed while its batch still
    /// ran on the server) before starting, instead of failing with <see cref="MigrationBusyException"/>.
    /// </summary>
    public bool TakeOver { get; init; }

    /// <summary>Whether the engine sizes the batches (no <see cref="BatchSize"/> and no <see cref="Throttle"/>).</summary>
    public bool Adaptive => BatchSize is null && Throttle is null;
}

/// <summary>
/// Reported after every step. Waiting names the row the run waits for, and who holds it; Paused why the engine
/// pauses (a health signal, "paused 4.0 s: autovacuum on todos"); BatchRows and BatchMs are the
/// last batch's size and time.
/// </summary>
public sealed record MigrationProgress(
    long RowsDone, long RowsTotal, long Batches, double RowsPerSecond, TimeSpan? Eta, bool Completed, string? Waiting = null,
    string? Paused = null, int BatchRows = 0, double BatchMs = 0)
{
    public double Fraction => RowsTotal == 0 ? 1 : Math.Min(1, (double)RowsDone / RowsTotal);
}

public sealed record MigrationRunResult(
    long BatchesThisRun, long RowsMovedThisRun, bool Completed, bool Cancelled, int Retries, TimeSpan Elapsed, MigrationStatus Status)
{
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? RowsMovedThisRun / Elapsed.TotalSeconds : 0;

    /// <summary>The engine's mode for this run, as <c>batch_engine_status()</c> words it.</summary>
    public string Mode { get; init; } = "";

    /// <summary>Batches undone by a lock timeout or deadlock and retried at half the size.</summary>
    public int Splits { get; init; }

    /// <summary>Time the engine paused on health signals.</summary>
    public TimeSpan Paused { get; init; }

    /// <summary>Every step of the run (batches, splits, waits, pauses) in order.</summary>
    public IReadOnlyList<EngineSample> Samples { get; init; } = [];

    /// <summary>Statements run to build the indexes deferred while the backfill filled the new tables (<c>migration_index_plan()</c>).</summary>
    public int IndexStatements { get; init; }

    /// <summary>Time spent building them, within <see cref="Elapsed"/>.</summary>
    public TimeSpan IndexBuild { get; init; }

    /// <summary>The backfill is complete but the build of the deferred indexes was interrupted: run again to finish it.</summary>
    public bool IndexesPending { get; init; }
}

/// <summary>
/// Configures the batch engine (<c>migrate_todos_configure()</c>) and calls <c>migrate_todos_next()</c> in a loop,
/// one committed step per call, so that a crash, a kill or Ctrl-C loses at most the batch in flight, which the SQL
/// rolls back and the next run redoes. The SQL decides each batch's size, splits a batch that hit a lock timeout,
/// and says when to pause and why; this loop only sleeps as told and reports. Cancellation is honoured between
/// steps only (and during a pause): the batch in flight always finishes.
/// </summary>
public sealed class MigrationRunner(string connectionString)
{
    // Session-level lock: a second `migrate run` would only queue behind the first on migration_state.
    // The same key is todoscale_migration_lock_key() in 002, which migration_sessions() looks for.
    public const long AdvisoryLockKey = 0x7D05CA1E_0002;

    /// <summary>What the runner's sessions are called in pg_stat_activity (and in migration_sessions()).</summary>
    public const string ApplicationName = "todoscale migrate run";

    public async Task<MigrationRunResult> RunAsync(
        MigrationRunOptions options, IProgress<MigrationProgress>? progress = null, CancellationToken ct = default)
    {
        if (options.BatchSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "BatchSize must be at least 1.");
        }

        if (options.MaxBatches is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatches must be at least 1.");
        }

        var migration = new LegacyMigration(connectionString);
        var runnerConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = ApplicationName }.ConnectionString;
        await using var conn = new NpgsqlConnection(runnerConnectionString);
        await conn.OpenAsync(ct);
        // A killed client leaves its batch running on the server, and with it this session's migration lock:
        // without the check the server notices the closed socket only when the batch ends. Session-level,
        // so it must be reset before the connection goes back to the pool (Npgsql's DISCARD ALL does).
        await LegacyMigration.QueryAsync(conn, "SELECT set_config('client_connection_check_interval', '1s', false)", r => r.GetString(0), ct);
        if (!await TryLockAsync(conn, ct))
        {
            var holders = await migration.SessionsAsync(ct);
            if (!options.TakeOver)
            {
                throw new MigrationBusyException(holders);
            }

            await TakeOverAsync(conn, migration, holders, ct);
        }

        // Released explicitly: a pooled connection would otherwise keep the session lock until it is reused.
        try
        {
            var status = (await LegacyMigration.QueryAsync(conn, "SELECT * FROM migration_status()", LegacyMigration.ReadStatus, ct))[0];
            if (status.State is "not_started" or "rolled_back")
            {
                var blocking = (await migration.PreflightAsync(ct)).Where(i => i.IsBlocking).ToList();
                if (blocking.Count > 0)
                {
                    throw new MigrationBlockedException(blocking);
                }

                await migration.StartAsync(ct);
                status = (await LegacyMigration.QueryAsync(conn, "SELECT * FROM migration_status()", LegacyMigration.ReadStatus, ct))[0];
            }
            else if (status.State is "cut_over")
            {
                throw new InvalidOperationException("the migration was already cut over; nothing to move (use `migrate rollback` to go back)");
            }

            var e = options.Engine;
            var mode = (await LegacyMigration.QueryAsync(conn,
                "SELECT migrate_todos_configure($1, $2, $3, $4, $5, $6, $7, $8, $9)", r => r.GetString(0), ct,
                (object?)options.BatchSize ?? DBNull.Value, (object?)options.Throttle ?? DBNull.Value, e.Target, e.MaxBatchSize, e.Signals,
                e.WalBudgetMb is { } wal ? (decimal)wal : DBNull.Value, (object?)e.MaxReplicaLag ?? DBNull.Value,
                (object?)e.Probe ?? DBNull.Value, e.MaxPause))[0];

            var rowsBefore = status.RowsMoved;
            var total = status.RowsMoved + (status.RowsRemaining ?? 0);
            var sw = Stopwatch.StartNew();
            long batches = 0, moved = 0;
            int retries = 0, splits = 0;
            var paused = TimeSpan.Zero;
            var samples = new List<EngineSample>();
            var completed = status.State == "migrated";

            while (!completed && !ct.IsCancellationRequested && (options.MaxBatches is not { } max || batches < max))
            {
                // CancellationToken.None: Ctrl-C must not abort the batch in flight, only prevent the next one.
                var step = (await LegacyMigration.WithRetryAsync(
                    () => LegacyMigration.QueryAsync(conn, EngineStep.Sql, EngineStep.Read, CancellationToken.None),
                    options.MaxAttemptsPerBatch, CancellationToken.None, () => retries++))[0];
                samples.Add(new EngineSample(sw.Elapsed, step.Outcome, step.BatchRows, step.RowsMoved, step.ElapsedMs, step.PauseMs, step.Signal));

                string? waiting = null, pausedWhy = null;
                switch (step.Outcome)
                {
                    case "completed":
                        completed = true;
                        break;
                    case "batch":
                        batches++;
                        moved += step.RowsMoved;
                        pausedWhy = step.Signal is null ? null : step.Detail;
                        break;
                    case "wait":
                        // The next key is held by an application transaction; the SQL waited for it alone, up to its
                        // bound, and recorded who holds it. Not a batch: --max-batches counts batches that copied rows.
                        waiting = (await migration.RecentProgressAsync(1, CancellationToken.None)) is [{ Step: "wait" } w] ? w.Detail : "waiting for a locked row";
                        break;
                    case "split":
                        splits++;
                        pausedWhy = $"split: {step.Detail}; retrying with {step.NextRows:N0} rows";
                        break;
                    case "paused":
                        pausedWhy = step.Detail;
                        break;
                }

                var done = rowsBefore + moved;
                if (!completed && done >= total)
                {
                    // The application's inserts beyond the cursor add rows to copy: count them again rather
                    // than show more rows done than there are (cheap here: only the pages past the last batch).
                    var now = (await LegacyMigration.QueryAsync(conn, "SELECT * FROM migration_status()", LegacyMigration.ReadStatus, CancellationToken.None))[0];
                    total = now.RowsMoved + (now.RowsRemaining ?? 0);
                }

                total = Math.Max(total, done);
                var rate = moved / Math.Max(sw.Elapsed.TotalSeconds, 1e-3);
                progress?.Report(new MigrationProgress(
                    completed ? total : done, total, batches, rate,
                    completed ? TimeSpan.Zero : rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : null, completed, waiting,
                    pausedWhy, step.BatchRows, step.ElapsedMs));

                if (!completed && step.PauseMs > 0)
                {
                    if (step.Outcome != "batch" || step.Signal is not null)
                    {
                        paused += TimeSpan.FromMilliseconds(step.PauseMs);
                    }

                    try
                    {
                        await Task.Delay(step.PauseMs, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            // The secondary indexes migration_start() deferred: built one partition at a time by the plan the SQL
            // returns. Part of the run (cutover refuses without them), counted in its time.
            var indexSteps = 0;
            var indexesPending = false;
            var indexTime = TimeSpan.Zero;
            if (completed)
            {
                var building = Stopwatch.StartNew();
                // Index steps left (what cutover waits for), and whether the plan holds anything at all: a run that finds
                // only the statistics left (an earlier run stopped after its builds) must still take them.
                var (planned, anyPlanned) = (await LegacyMigration.QueryAsync(conn,
                    "SELECT migration_index_steps_left(), EXISTS (SELECT 1 FROM migration_index_plan() WHERE stmt NOT LIKE 'SET %')",
                    r => (r.GetInt64(0), r.GetBoolean(1)), CancellationToken.None))[0];
                if (anyPlanned && ct.IsCancellationRequested)
                {
                    indexesPending = planned > 0;
                }
                else if (anyPlanned)
                {
                    var work = planned > 0
                        ? $"building the new tables' indexes and the archive's bookkeeping, deferred while they filled, then their statistics: {planned:N0} steps, one partition at a time, writes go on"
                        : "taking the new tables' statistics, writes go on";
                    progress?.Report(new MigrationProgress(total, total, batches, moved / Math.Max(sw.Elapsed.TotalSeconds, 1e-3), null, false,
                        Paused: work));
                    // Under the runner's application_name: a write waiting on a build is waiting on the migration, and
                    // pg_stat_activity (and the benchmark's wait sampler) should say so.
                    try
                    {
                        indexSteps = await new PlanRunner(runnerConnectionString).RunAsync(["SELECT stmt FROM migration_index_plan() ORDER BY step"], ct);
                    }
                    catch (OperationCanceledException)
                    {
                        // Ctrl-C: the statement in flight is cancelled (a concurrent build leaves an INVALID index, which
                        // the next plan drops and builds again); the backfill stays complete. Pending only if cutover
                        // still waits on a step: statistics cut short are taken by the next run, and hold nothing back.
                        indexesPending = (await LegacyMigration.QueryAsync(conn,
                            "SELECT migration_index_steps_left()", r => r.GetInt64(0), CancellationToken.None))[0] > 0;
                    }
                }

                indexTime = building.Elapsed;
            }

            sw.Stop();
            var final = (await LegacyMigration.QueryAsync(conn, "SELECT * FROM migration_status()", LegacyMigration.ReadStatus, CancellationToken.None))[0];
            return new MigrationRunResult(batches, moved, completed, !completed && ct.IsCancellationRequested, retries, sw.Elapsed, final)
            {
                Mode = mode, Splits = splits, Paused = paused, Samples = samples, IndexStatements = indexSteps, IndexBuild = indexTime,
                IndexesPending = indexesPending,
            };
        }
        finally
        {
            try
            {
                if (conn.State == System.Data.ConnectionState.Open)
                {
                    await LegacyMigration.QueryAsync(conn, "SELECT pg_advisory_unlock(todoscale_migration_lock_key())", r => r.GetBoolean(0), CancellationToken.None);
                }
            }
            catch (NpgsqlException)
            {
                // The session is gone, and the server released its lock with it; keep the original error.
            }
        }
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection conn, CancellationToken ct) =>
        (await LegacyMigration.QueryAsync(conn, "SELECT pg_try_advisory_lock(todoscale_migration_lock_key())", r => r.GetBoolean(0), ct))[0];

    /// <summary>
    /// Ends the sessions that hold the migration lock, then takes it. Safe for the data: a terminated batch rolls
    /// back whole (its copies and its progress row go together) and the next batch redoes it.
    /// </summary>
    private static async Task TakeOverAsync(NpgsqlConnection conn, LegacyMigration migration, IReadOnlyList<MigrationSession> holders, CancellationToken ct)
    {
        foreach (var h in holders.Where(h => h.HoldsLock))
        {
            await LegacyMigration.QueryAsync(conn, "SELECT pg_terminate_backend($1)", r => r.GetBoolean(0), ct, h.Pid);
        }

        // Termination is asynchronous: the backend rolls back its batch and exits, then the lock is free.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await TryLockAsync(conn, ct))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new MigrationBusyException(await migration.SessionsAsync(ct));
            }

            await Task.Delay(100, ct);
        }
    }
}
