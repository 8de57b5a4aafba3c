using TodoScale.Simulation.LegacyWriters;

namespace TodoScale.Simulation.Tests;

public sealed class LegacyWriterReportTests
{
    private static LegacyWriterReport Report(Dictionary<string, long> errors, Dictionary<string, string> messages) =>
        new(new Dictionary<string, long> { ["insert"] = 10 }, errors, LatencySummary.From([1.0]), new Dictionary<string, LatencySummary>(), TimeSpan.FromSeconds(1))
        {
            FirstMessageBySqlState = messages,
        };

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task a_failed_legacy_statement_is_named_with_its_sqlstate_message_and_whether_a_real_application_meets_it()
    {
        await Task.Yield();
        var report = Report(
            new() { [PostgresErrorCodes.DeadlockDetected] = 1, [PostgresErrorCodes.LockNotAvailable] = 2 },
            new() { [PostgresErrorCodes.DeadlockDetected] = "deadlock detected", [PostgresErrorCodes.LockNotAvailable] = "canceling statement due to lock timeout" });

        var lines = report.DescribeErrors().ToList();

        Assert.Equal(2, lines.Count);
        Assert.StartsWith("2 × 55P03 canceling statement due to lock timeout — NOT expected", lines[0]);
        Assert.StartsWith("1 × 40P01 deadlock detected — expected of a real application", lines[1]);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task no_failure_describes_nothing()
    {
        await Task.Yield();
        Assert.Empty(Report([], []).DescribeErrors());
    }
}
