using Npgsql;

namespace TodoScale.Database.Schema;

/// <summary>
/// Runs what a script's outside-transaction section plans (<see cref="ScriptSections"/>), as psql's
/// <c>\gexec</c> does: each statement the plan query returns, one at a time, on one autocommit connection
/// (CREATE INDEX CONCURRENTLY refuses to run inside a transaction). The statements, their order and their
/// lock_timeout all come from the SQL plan; this only executes them, and when one fails on a lock
/// timeout or a deadlock it waits and asks the plan again: the new plan starts from what is now in the
/// database, so an INVALID index the failed build left behind is dropped and built again. Done when the
/// plan is empty; a plan still not empty after <see cref="MaxRounds"/> rounds is an error.
/// </summary>
public sealed class PlanRunner(string connectionString)
{
    // Six: the archive bookkeeping's rebuild (002) takes two productive rounds (up to its resume, then after it), and a
    // round lost to a lock timeout or deadlock must leave room for them.
    public const int MaxRounds = 6;

    /// <summary>Runs every plan query until its plan is empty; returns how many statements ran.</summary>
    public async Task<int> RunAsync(IReadOnlyList<string> planQueries, CancellationToken ct = default)
    {
        if (planQueries.Count == 0)
        {
            return 0;
        }

        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        var executed = 0;
        foreach (var planQuery in planQueries)
        {
            for (var round = 1; ; round++)
            {
                var statements = await ReadPlanAsync(conn, planQuery, ct);
                if (statements.Count == 0)
                {
                    break;
                }

                if (round > MaxRounds)
                {
                    throw new InvalidOperationException(
                        $"{planQuery} still plans {statements.Count} statements after {MaxRounds} rounds, next: {statements.FirstOrDefault(s => !s.StartsWith("SET ", StringComparison.Ordinal))}");
                }

                var current = "";
                try
                {
                    foreach (var statement in statements)
                    {
                        current = statement;
                        // No client-side timeout: building the index of a large partition takes as long as it takes;
                        // the plan's lock_timeout bounds every wait that could hold up the application.
                        await using var cmd = new NpgsqlCommand(statement, conn) { CommandTimeout = 0 };
                        await cmd.ExecuteNonQueryAsync(ct);
                        executed++;
                    }
                }
                catch (PostgresException e) when (IsWorthRetrying(e) && round < MaxRounds)
                {
                    // Someone else's long transaction holds the lock: give it time to end, then plan again.
                    await Task.Delay(TimeSpan.FromSeconds(round), ct);
                }
                catch (PostgresException e) when (IsWorthRetrying(e))
                {
                    throw new InvalidOperationException(
                        $"{e.SqlState}: {e.MessageText} in round {round} of {MaxRounds}, at: {current} "
                        + "(a concurrent build waits for every older transaction in the database: look for one idle in transaction)", e);
                }
            }
        }

        return executed;
    }

    private static bool IsWorthRetrying(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected;

    private static async Task<List<string>> ReadPlanAsync(NpgsqlConnection conn, string planQuery, CancellationToken ct)
    {
        var statements = new List<string>();
        await using var cmd = new NpgsqlCommand(planQuery, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            // psql's \gexec runs every non-null column of every row, left to right; so does this.
            for (var c = 0; c < reader.FieldCount; c++)
            {
                if (!await reader.IsDBNullAsync(c, ct))
                {
                    statements.Add(reader.GetString(c));
                }
            }
        }

        return statements;
    }
}
