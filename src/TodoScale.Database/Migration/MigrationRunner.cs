using System.Diagnostics;
using Npgsql;

namespace TodoScale.Database.Migration;

/// <summary>How `todoscale migrate run` (and the demo) drive the backfill.</summary>
public sealed record MigrationRunOptions
{
    /// <summary>Rows per batch (one transaction each). Larger is faster; smaller holds row locks for less time.</summary>
    public int BatchSize { get; init; } = 5_000;

    /// <summary>Stop after this many batches in this run (null: until done). Running again resumes.</summary>
    public int? MaxBatches { get; init; }

    /// <summary>Pause between batches, to leave the server to the application.</summary>
    public TimeSpan Throttle { get; init; } = TimeSpan.Zero;

    /// <summary>How often one batch is retried after a deadlock, serialization failure or lock timeout.</summary>
    public int MaxAttemptsPerBatch { get; init; } = 20;
}

/// <summary>Reported after every batch.</summary>
public sealed record MigrationProgress(
    long RowsDone, long RowsTotal, long Batches, double RowsPerSecond, TimeSpan? Eta, bool Completed)
{
    public double Fraction => RowsTotal == 0 ? 1 : Math.Min(1, (double)RowsDone / RowsTotal);
}

public sealed record MigrationRunResult(
    long BatchesThisRun, long RowsMovedThisRun, bool Completed, bool Cancelled, int Retries, TimeSpan Elapsed, MigrationStatus Status)
{
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? RowsMovedThisRun / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Calls <c>migrate_todos_batch(size, 1)</c> in a loop, one committed batch per call, so that a crash,
/// a kill or Ctrl-C loses at most the batch in flight, which the SQL rolls back and the next run redoes.
/// Cancellation is honoured between batches only: the batch in flight always finishes.
/// </summary>
public sealed class MigrationRunner(string connectionString)
{
    // Session-level lock: a second `migrate run` would only queue behind the first on migration_state.
    public const long AdvisoryLockKey = 0x7D05CA1E_0002;

    public async Task<MigrationRunResult> RunAsync(
        MigrationRunOptions options, IProgress<MigrationProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options.BatchSize));
        if (options.MaxBatches is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatches must be at least 1.");
        }

        var migration = new LegacyMigration(connectionString);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        var locked = await LegacyMigration.QueryAsync(conn, "SELECT pg_try_advisory_lock($1)", r => r.GetBoolean(0), ct, AdvisoryLockKey);
        if (!locked[0])
        {
            throw new MigrationBusyException();
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

            var rowsBefore = status.RowsMoved;
            var total = status.RowsMoved + (status.RowsRemaining ?? 0);
            var sw = Stopwatch.StartNew();
            long batches = 0, moved = 0;
            var retries = 0;
            var completed = status.State == "migrated";

            while (!completed && !ct.IsCancellationRequested && (options.MaxBatches is not { } max || batches < max))
            {
                // CancellationToken.None: Ctrl-C must not abort the batch in flight, only prevent the next one.
                var result = await LegacyMigration.WithRetryAsync(
                    () => LegacyMigration.QueryAsync(conn, "SELECT batch, rows_moved, last_key, completed FROM migrate_todos_batch($1, 1)",
                        r => new BatchResult(r.GetInt64(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetGuid(2), r.GetBoolean(3)),
                        CancellationToken.None, options.BatchSize),
                    options.MaxAttemptsPerBatch, CancellationToken.None, () => retries++);

                if (result.Count == 0 || result[0].Completed)
                {
                    completed = true;
                }
                else
                {
                    batches++;
                    moved += result[0].RowsMoved;
                }

                var done = rowsBefore + moved;
                total = Math.Max(total, done);
                var rate = moved / Math.Max(sw.Elapsed.TotalSeconds, 1e-3);
                progress?.Report(new MigrationProgress(
                    completed ? total : done, total, batches, rate,
                    completed ? TimeSpan.Zero : rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : null, completed));

                if (!completed && options.Throttle > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(options.Throttle, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            sw.Stop();
            var final = (await LegacyMigration.QueryAsync(conn, "SELECT * FROM migration_status()", LegacyMigration.ReadStatus, CancellationToken.None))[0];
            return new MigrationRunResult(batches, moved, completed, !completed && ct.IsCancellationRequested, retries, sw.Elapsed, final);
        }
        finally
        {
            try
            {
                if (conn.State == System.Data.ConnectionState.Open)
                {
                    await LegacyMigration.QueryAsync(conn, "SELECT pg_advisory_unlock($1)", r => r.GetBoolean(0), CancellationToken.None, AdvisoryLockKey);
                }
            }
            catch (NpgsqlException)
            {
                // The session is gone, and the server released its lock with it; keep the original error.
            }
        }
    }
}
