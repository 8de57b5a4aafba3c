using Npgsql;

namespace TodoScale.Database.Migration;

/// <summary>One finding of <c>migration_preflight()</c>. Severity is ok, info or blocking.</summary>
public sealed record PreflightIssue(string CheckName, string Severity, long AffectedRows, string Handling)
{
    public bool IsBlocking => Severity == "blocking";
}

/// <summary>One row of <c>validate_migration()</c>.</summary>
public sealed record ValidationCheck(string CheckName, string Expected, string Actual, string Status)
{
    public bool Passed => Status == "PASS";
}

/// <summary>The row of <c>migration_status()</c>.</summary>
public sealed record MigrationStatus(
    string State, DateTimeOffset? ArchiveCutoff, long? LegacyRows, long RowsMoved, long? RowsRemaining, long Batches,
    Guid? LastKey, bool MirrorTrigger, DateTimeOffset? StartedAt, DateTimeOffset? LastBatchAt, DateTimeOffset? CompletedAt,
    DateTimeOffset? CutoverAt, DateTimeOffset? RolledBackAt);

/// <summary>One row of <c>migrate_todos_batch()</c>.</summary>
public sealed record BatchResult(long Batch, long RowsMoved, Guid? LastKey, bool Completed);

/// <summary>One row of <c>migration_progress</c>.</summary>
public sealed record ProgressEntry(string Step, DateTimeOffset StartTime, DateTimeOffset? EndTime, long RowsMoved, Guid? LastKey, string Status, string? Detail);

/// <summary>A step of <c>migration_rollback()</c> and the rows it touched.</summary>
public sealed record RollbackStep(string Step, long AffectedRows);

/// <summary>The preflight found rows that cannot move; nothing was changed.</summary>
public sealed class MigrationBlockedException(IReadOnlyList<PreflightIssue> issues)
    : Exception("migration blocked by preflight: " + string.Join("; ", issues.Select(i => $"{i.CheckName} ({i.AffectedRows} rows)")))
{
    public IReadOnlyList<PreflightIssue> Issues { get; } = issues;
}

/// <summary>One row of <c>migration_sessions()</c>: a session holding the migration lock or running a batch.</summary>
public sealed record MigrationSession(
    int Pid, bool HoldsLock, string Application, string Client, string? State, string? WaitingFor,
    decimal SessionSeconds, decimal? StatementSeconds, string? Query)
{
    public override string ToString() =>
        $"pid {Pid} ({Application}, from {Client}, {State ?? "unknown state"}" +
        (StatementSeconds is { } s ? $" for {s:0.#} s" : "") +
        (WaitingFor is { } w ? $", waiting for {w}" : "") + ")";
}

/// <summary>One row of <c>migration_repair()</c>.</summary>
public sealed record RepairedId(Guid Id, string Problem, string Action);

/// <summary>Another `migrate run` (or what is left of a killed one) holds the migration lock on this database.</summary>
public sealed class MigrationBusyException(IReadOnlyList<MigrationSession> sessions)
    : Exception(Describe(sessions))
{
    public IReadOnlyList<MigrationSession> Sessions { get; } = sessions;

    private static string Describe(IReadOnlyList<MigrationSession> sessions)
    {
        var holders = sessions.Where(s => s.HoldsLock).ToList();
        return "another migration run is already working on this database" +
               (holders.Count > 0 ? ": " + string.Join("; ", holders) : "") +
               ". Wait for it, or stop it (the migration resumes where it stopped). If its client was killed, the server ends " +
               "the session once the statement in flight returns; `todoscale migrate run --takeover` ends it now.";
    }
}

/// <summary>
/// Thin C# face of the SQL interface in migrations/scaling/002_migrate_existing_data.sql. Every decision
/// (what blocks, where a row goes, what validates, how cutover and rollback work) lives in that SQL, so the
/// psql path and the CLI cannot drift apart.
/// </summary>
public sealed class LegacyMigration(string connectionString)
{
    /// <summary>SQLSTATEs after which repeating the same transaction is safe and usually succeeds.</summary>
    public static bool IsTransient(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.LockNotAvailable;

    public string ConnectionString => connectionString;

    public async Task<IReadOnlyList<PreflightIssue>> PreflightAsync(CancellationToken ct = default) =>
        await QueryAsync("SELECT check_name, severity, affected_rows, handling FROM migration_preflight()",
            r => new PreflightIssue(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3)), ct);

    public async Task<IReadOnlyList<ValidationCheck>> ValidateAsync(CancellationToken ct = default) =>
        await QueryAsync("SELECT check_name, expected, actual, status FROM validate_migration()",
            r => new ValidationCheck(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3)), ct);

    public async Task<MigrationStatus> StatusAsync(CancellationToken ct = default) =>
        (await QueryAsync("SELECT * FROM migration_status()", ReadStatus, ct))[0];

    public async Task<IReadOnlyList<ProgressEntry>> RecentProgressAsync(int limit, CancellationToken ct = default) =>
        await QueryAsync(
            "SELECT step, start_time, end_time, rows_moved, last_key, status, detail FROM migration_progress ORDER BY start_time DESC, id DESC LIMIT $1",
            r => new ProgressEntry(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), Nullable<DateTimeOffset>(r, 2), r.GetInt64(3),
                Nullable<Guid>(r, 4), r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)),
            ct, limit);

    /// <summary>The batch engine's row for the migration (<c>batch_engine_status()</c>), or null before any run configured it.</summary>
    public async Task<BatchEngineStatus?> EngineStatusAsync(CancellationToken ct = default) =>
        (await QueryAsync(BatchEngineStatus.Sql + " WHERE job = 'migration'", BatchEngineStatus.Read, ct)).FirstOrDefault();

    /// <summary>Sessions holding the migration lock or running a batch (<c>migration_sessions()</c>).</summary>
    public async Task<IReadOnlyList<MigrationSession>> SessionsAsync(CancellationToken ct = default) =>
        await QueryAsync("SELECT pid, holds_lock, application, client, state, waiting_for, session_seconds, statement_seconds, query FROM migration_sessions()",
            r => new MigrationSession(r.GetInt32(0), r.GetBoolean(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5), r.GetDecimal(6), r.IsDBNull(7) ? null : r.GetDecimal(7), r.IsDBNull(8) ? null : r.GetString(8)), ct);

    /// <summary>Rebuilds the copies of every id that validation names, from the legacy rows (<c>migration_repair()</c>).</summary>
    public async Task<IReadOnlyList<RepairedId>> RepairAsync(CancellationToken ct = default) =>
        await WithRetryAsync(() => QueryAsync("SELECT id, problem, action FROM migration_repair()",
            r => new RepairedId(r.GetGuid(0), r.GetString(1), r.GetString(2)), ct), 5, ct);

    /// <summary>The planner's row estimate of todos_active + todos_archived (cheap: no scan), to size a rollback's pause.</summary>
    public async Task<long> NewTableRowEstimateAsync(CancellationToken ct = default) =>
        (await QueryAsync("""
            SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent IN (to_regclass('todos_active'), to_regclass('todos_archived'))
            """, r => r.GetInt64(0), ct))[0];

    /// <summary>Installs the mirror trigger and the archive months (idempotent); retried while the lock on todos is contended.</summary>
    public async Task StartAsync(CancellationToken ct = default) =>
        await WithRetryAsync(() => QueryAsync("SELECT state FROM migration_start()", r => r.GetString(0), ct), 10, ct);

    /// <summary>Validates (unless forced), stops mirroring and fences the legacy table, retrying on lock timeouts.</summary>
    public async Task CutoverAsync(bool force, CancellationToken ct = default) =>
        await WithRetryAsync(() => QueryAsync("SELECT state FROM migration_cutover($1)", r => r.GetString(0), ct, force), 10, ct);

    /// <summary>One transaction that makes todos hold exactly todos_active ∪ todos_archived (see the SQL).</summary>
    public async Task<IReadOnlyList<RollbackStep>> RollbackAsync(bool dropNewTables, CancellationToken ct = default) =>
        await WithRetryAsync(() => QueryAsync("SELECT step, affected_rows FROM migration_rollback($1)",
            r => new RollbackStep(r.GetString(0), r.GetInt64(1)), ct, dropNewTables), 10, ct);

    internal static async Task<T> WithRetryAsync<T>(Func<Task<T>> action, int attempts, CancellationToken ct, Action? retried = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action();
            }
            catch (PostgresException e) when (IsTransient(e) && attempt < attempts)
            {
                retried?.Invoke();
                // Jittered back-off: two migrators or a writer storm should not collide again in lockstep.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 100) * attempt), ct);
            }
        }
    }

    internal static MigrationStatus ReadStatus(NpgsqlDataReader r) => new(
        r.GetString(0), Nullable<DateTimeOffset>(r, 1), Nullable<long>(r, 2), r.GetInt64(3), Nullable<long>(r, 4), r.GetInt64(5),
        Nullable<Guid>(r, 6), !r.IsDBNull(7) && r.GetBoolean(7), Nullable<DateTimeOffset>(r, 8), Nullable<DateTimeOffset>(r, 9),
        Nullable<DateTimeOffset>(r, 10), Nullable<DateTimeOffset>(r, 11), Nullable<DateTimeOffset>(r, 12));

    private static T? Nullable<T>(NpgsqlDataReader r, int i) where T : struct => r.IsDBNull(i) ? null : r.GetFieldValue<T>(i);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct, params object[] args)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        return await QueryAsync(conn, sql, read, ct, args);
    }

    internal static async Task<IReadOnlyList<T>> QueryAsync<T>(
        NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct, params object[] args)
    {
        // Validation and rollback scan every row: no client-side timeout may abort them halfway.
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }

        var rows = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
