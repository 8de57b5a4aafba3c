using System.Globalization;
using System.Text;
using TodoScale.Database.Migration;
using TodoScale.Simulation.LegacyWriters;

namespace TodoScale.Benchmarks;

/// <summary>One migration measurement: copy times of the three paths, the writers' latency alone and during, validation.</summary>
public sealed record MigrationMeasurementResult(
    long LegacyRows, TimeSpan SingleStatement, TimeSpan BatchedQuiet, TimeSpan BatchedUnderWrites, TimeSpan Validation,
    LegacyWriterReport WritersAlone, LegacyWriterReport WritersDuringMigration, IReadOnlyList<ValidationCheck> Checks, int Retries)
{
    public double SingleStatementRowsPerSecond => LegacyRows / SingleStatement.TotalSeconds;
    public double BatchedQuietRowsPerSecond => LegacyRows / BatchedQuiet.TotalSeconds;
    public double BatchedUnderWritesRowsPerSecond => LegacyRows / BatchedUnderWrites.TotalSeconds;

    public string ToMarkdown(MigrationMeasurementOptions o)
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
