using Npgsql;

namespace TodoScale.Database.Migration;

/// <summary>
/// The knobs of the batch engine (migrations/scaling/maintenance/engine.sql) for one run. The engine itself, the
/// sizing, the split-and-retry and every health signal, is SQL; C# passes these to <c>migrate_todos_configure()</c>
/// and obeys what <c>migrate_todos_next()</c> answers.
/// </summary>
public sealed record BatchEngineOptions
{
    /// <summary>How long one batch should take: how long an application write can wait behind it.</summary>
    public TimeSpan Target { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The adaptive size never exceeds this many rows.</summary>
    public int MaxBatchSize { get; init; } = 50_000;

    /// <summary>Check the health signals (lock waits, vacuum, WAL, replica lag, probe) between batches.</summary>
    public bool Signals { get; init; } = true;

    /// <summary>WAL bytes per second the server may write while the job runs (null: no budget). 100 MB/s is a 1 Gbit/s replication link.</summary>
    public double? WalBudgetMb { get; init; } = 100;

    /// <summary>Pause while a standby's replay lags more than this (null: not watched).</summary>
    public TimeSpan? MaxReplicaLag { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An application statement whose latency is compared with its idle time (null: none).</summary>
    public string? Probe { get; init; }

    /// <summary>A signal on longer than this no longer stops the job: it goes on one small batch per second.</summary>
    public TimeSpan MaxPause { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>One row of <c>migrate_todos_next()</c>: what one step of the engine did.</summary>
public sealed record EngineStep(
    string Outcome, long RowsMoved, Guid? LastKey, int BatchRows, double ElapsedMs, int NextRows, int PauseMs, string? Signal, string? Detail)
{
    internal static EngineStep Read(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetGuid(2), r.GetInt32(3), (double)r.GetDecimal(4), r.GetInt32(5),
        r.GetInt32(6), r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8));

    public const string Sql = "SELECT outcome, rows_moved, last_key, batch_rows, elapsed_ms, next_rows, pause_ms, signal, detail FROM migrate_todos_next()";
}

/// <summary>A step of a run as it happened, for the progress line and the benchmark's chart.</summary>
public sealed record EngineSample(TimeSpan At, string Outcome, int BatchRows, long RowsMoved, double ElapsedMs, int PauseMs, string? Signal);

/// <summary>One row of <c>batch_engine_status()</c>.</summary>
public sealed record BatchEngineStatus(
    string Job, string Mode, int BatchRows, int TargetMs, decimal? RowsPerSecond, int? LastRows, decimal? LastMs, long Batches,
    long Splits, decimal PausedSeconds, string? Signal, string? Detail, DateTimeOffset? UpdatedAt)
{
    public const string Sql = "SELECT job, mode, batch_rows, target_ms, rows_per_s, last_rows, last_ms, batches, splits, paused_s, signal, detail, updated_at FROM batch_engine_status()";

    internal static BatchEngineStatus Read(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.IsDBNull(4) ? null : r.GetDecimal(4), r.IsDBNull(5) ? null : r.GetInt32(5),
        r.IsDBNull(6) ? null : r.GetDecimal(6), r.GetInt64(7), r.GetInt64(8), r.GetDecimal(9), r.IsDBNull(10) ? null : r.GetString(10),
        r.IsDBNull(11) ? null : r.GetString(11), r.IsDBNull(12) ? null : r.GetFieldValue<DateTimeOffset>(12));
}
