using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace TodoScale.Database.Migration;

public sealed record MigrationBenchmarkOptions
{
    public int BatchSize { get; init; } = 5_000;
    public int WriterConnections { get; init; } = 4;

    /// <summary>Pause between two statements of one simulated application connection (a busy app, not a load test).</summary>
    public TimeSpan WriterThinkTime { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How long the writers run alone first, for their latency without a migration.</summary>
    public TimeSpan WriterBaselineDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Create the index on todos(parent_todo_id) that migration_preflight() recommends before anything is measured:
    /// without it every legacy DELETE scans the whole table for subtasks to cascade to.
    /// </summary>
    public bool LegacyParentIndex { get; init; }
}

public sealed record MigrationBenchmarkResult(
    long LegacyRows, TimeSpan SingleStatement, TimeSpan BatchedQuiet, TimeSpan BatchedUnderWrites, TimeSpan Validation,
    LegacyWriterReport WritersAlone, LegacyWriterReport WritersDuringMigration, IReadOnlyList<ValidationCheck> Checks, int Retries)
{
    public double SingleStatementRowsPerSecond => LegacyRows / SingleStatement.TotalSeconds;
    public double BatchedQuietRowsPerSecond => LegacyRows / BatchedQuiet.TotalSeconds;
    public double BatchedUnderWritesRowsPerSecond => LegacyRows / BatchedUnderWrites.TotalSeconds;

    public string ToMarkdown(MigrationBenchmarkOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"| Copy of {LegacyRows:N0} legacy rows | time | rows/s | vs single statement |");
        sb.AppendLine("|---|---:|---:|---:|");
        sb.AppendLine(inv, $"| one `INSERT … SELECT` of the whole table (offline, the physical limit) | {SingleStatement.TotalSeconds:N1} s | {SingleStatementRowsPerSecond:N0} | 1.00 |");
        sb.AppendLine(inv, $"| `migrate_todos_batch({o.BatchSize}, 1)` per transaction, no writers | {BatchedQuiet.TotalSeconds:N1} s | {BatchedQuietRowsPerSecond:N0} | {BatchedQuietRowsPerSecond / SingleStatementRowsPerSecond:N2} |");
        sb.AppendLine(inv, $"| same, while {o.WriterConnections} writer connections keep writing | {BatchedUnderWrites.TotalSeconds:N1} s | {BatchedUnderWritesRowsPerSecond:N0} | {BatchedUnderWritesRowsPerSecond / SingleStatementRowsPerSecond:N2} |");
        sb.AppendLine();
        sb.AppendLine("| Legacy writers' statement latency (ms) | statements | p50 | p95 | p99 | max | errors |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        sb.AppendLine(inv, $"| all statements, without a migration ({WritersAlone.Elapsed.TotalSeconds:N0} s) | {Row(WritersAlone)} |");
        sb.AppendLine(inv, $"| all statements, during the batched migration (mirror trigger on) | {Row(WritersDuringMigration)} |");
        foreach (var op in WritersAlone.LatencyByOperation.Keys.Union(WritersDuringMigration.LatencyByOperation.Keys).Order(StringComparer.Ordinal))
        {
            sb.AppendLine(inv, $"| `{op}`, without / during | {Pair(WritersAlone, WritersDuringMigration, op)} |");
        }
        sb.AppendLine();
        sb.AppendLine(inv, $"validate_migration() after the live run: {Checks.Count(c => c.Passed)}/{Checks.Count} PASS in {Validation.TotalSeconds:N1} s; batch retries after deadlocks: {Retries}.");
        return sb.ToString();

        string Pair(LegacyWriterReport a, LegacyWriterReport b, string op)
        {
            var x = a.LatencyByOperation.GetValueOrDefault(op) ?? LatencySummary.From([]);
            var y = b.LatencyByOperation.GetValueOrDefault(op) ?? LatencySummary.From([]);
            return string.Create(inv, $"{x.Count:N0} / {y.Count:N0} | {x.P50Ms:N2} / {y.P50Ms:N2} | {x.P95Ms:N1} / {y.P95Ms:N1} | {x.P99Ms:N0} / {y.P99Ms:N0} | {x.MaxMs:N0} / {y.MaxMs:N0} | ");
        }

        string Row(LegacyWriterReport r) =>
            string.Create(inv, $"{r.Latency.Count:N0} | {r.Latency.P50Ms:N2} | {r.Latency.P95Ms:N2} | {r.Latency.P99Ms:N2} | {r.Latency.MaxMs:N0} | ") +
            (r.TotalErrors == 0 ? "none" : string.Join(", ", r.ErrorsBySqlState.Select(e => $"{e.Value} × {e.Key}")));
    }
}

/// <summary>
/// The migration's figures on one database that holds a legacy todos table and the applied schema, all in
/// one run: the offline single-statement copy, the batched copy without and with a simulated application
/// writing, and that application's latency without and during the migration. Destructive for the new tables.
/// </summary>
public static class MigrationBenchmark
{
    public static async Task<MigrationBenchmarkResult> RunAsync(
        string connectionString, MigrationBenchmarkOptions options, Action<string>? log = null, CancellationToken ct = default)
    {
        var migration = new LegacyMigration(connectionString);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        var rows = (await LegacyMigration.QueryAsync(conn, "SELECT count(*) FROM todos", r => r.GetInt64(0), ct))[0];
        if (options.LegacyParentIndex)
        {
            log?.Invoke("CREATE INDEX CONCURRENTLY todos_parent_todo_id_idx");
            await TimeAsync(conn, "CREATE INDEX CONCURRENTLY IF NOT EXISTS todos_parent_todo_id_idx ON todos (parent_todo_id)", ct);
        }

        log?.Invoke($"writers alone for {options.WriterBaselineDuration.TotalSeconds:N0} s");
        var alone = await new LegacyWriterSimulator(connectionString, Writers(options) with { Duration = options.WriterBaselineDuration }).RunAsync(ct);
        rows = (await LegacyMigration.QueryAsync(conn, "SELECT count(*) FROM todos", r => r.GetInt64(0), ct))[0];

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
        return new MigrationBenchmarkResult(rows, single, quiet.Elapsed, live.Elapsed, sw.Elapsed, alone, during, checks, live.Retries);
    }

    private static LegacyWriterOptions Writers(MigrationBenchmarkOptions o) =>
        new() { Connections = o.WriterConnections, ThinkTime = o.WriterThinkTime, Seed = 99 };

    private static async Task<TimeSpan> TimeAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        var sw = Stopwatch.StartNew();
        await cmd.ExecuteNonQueryAsync(ct);
        return sw.Elapsed;
    }
}
