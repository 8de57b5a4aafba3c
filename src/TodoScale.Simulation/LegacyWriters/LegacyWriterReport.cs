using Npgsql;

namespace TodoScale.Simulation.LegacyWriters;

/// <summary>What the simulated legacy application did: statements per operation, failures per SQLSTATE, latencies.</summary>
public sealed record LegacyWriterReport(
    IReadOnlyDictionary<string, long> Operations, IReadOnlyDictionary<string, long> ErrorsBySqlState,
    LatencySummary Latency, IReadOnlyDictionary<string, LatencySummary> LatencyByOperation, TimeSpan Elapsed)
{
    public long TotalOperations => Operations.Values.Sum();
    public long TotalErrors => ErrorsBySqlState.Values.Sum();

    /// <summary>The first message seen for each SQLSTATE, so a failure is named rather than only counted.</summary>
    public IReadOnlyDictionary<string, string> FirstMessageBySqlState { get; init; } = new Dictionary<string, string>();

    /// <summary>Every successful statement, when it started (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>) and how long it took.</summary>
    public IReadOnlyList<WriterStatement> Statements { get; init; } = [];

    /// <summary>Latencies of the statements that started in [<paramref name="from"/>, <paramref name="to"/>) (Stopwatch timestamps).</summary>
    public LatencySummary Between(long from, long to) =>
        LatencySummary.From(Statements.Where(s => s.Started >= from && s.Started < to).Select(s => s.Ms).ToList());

    /// <summary>
    /// One line per SQLSTATE: count, code, message, and whether a real application meets it too. Deadlocks and
    /// foreign-key misses between the simulated writers happen without any migration; a lock or statement
    /// timeout would mean the migration made a writer wait, which it must not.
    /// </summary>
    public IEnumerable<string> DescribeErrors() => ErrorsBySqlState.OrderByDescending(e => e.Value).Select(e =>
        $"{e.Value:N0} × {e.Key} {FirstMessageBySqlState.GetValueOrDefault(e.Key, "")} — {Expectation(e.Key)}");

    public static string Expectation(string sqlState) => sqlState switch
    {
        PostgresErrorCodes.DeadlockDetected =>
            "expected of a real application: two legacy statements (bulk complete, cascading delete) locked the same rows in opposite order; the application retries",
        PostgresErrorCodes.ForeignKeyViolation =>
            "expected of a real application: a writer added a subtask to a todo another writer had just deleted",
        PostgresErrorCodes.SerializationFailure => "expected under concurrent writers; the application retries",
        PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled =>
            "NOT expected: a writer waited too long for a lock; look for what held it (migration_sessions(), pg_locks)",
        _ => "not expected of the simulated application",
    };
}

/// <summary>One statement of a simulated writer: its start (a Stopwatch timestamp) and its latency.</summary>
public readonly record struct WriterStatement(long Started, double Ms);
