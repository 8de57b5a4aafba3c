using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;

namespace TodoScale.Simulation.LegacyWriters;

/// <summary>
/// Stands in for the legacy application: N connections inserting, updating, completing and deleting rows
/// of the legacy todos table (deletes cascade to subtasks), each statement timed. Used as the concurrent
/// writers of the migration tests and by `todoscale demo` to show the migration running under live writes.
/// Failed statements (deadlock victims, a row deleted by another writer) are counted, not thrown: a real
/// application retries or reports them too.
/// </summary>
public sealed class LegacyWriterSimulator(string connectionString, LegacyWriterOptions? options = null)
{
    public const string Insert = "insert", Update = "update", Complete = "complete", Delete = "delete", BulkComplete = "bulk_complete";

    private readonly LegacyWriterOptions _options = options ?? new LegacyWriterOptions();
    private long _operations;

    /// <summary>Statements finished so far (for live displays).</summary>
    public long OperationsSoFar => Interlocked.Read(ref _operations);

    public async Task<LegacyWriterReport> RunAsync(CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Connections, 1, nameof(_options.Connections));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (_options.Duration is { } d)
        {
            stop.CancelAfter(d);
        }

        Guid[] users;
        await using (var conn = new NpgsqlConnection(connectionString))
        {
            await conn.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT id FROM users ORDER BY id LIMIT 2000", conn);
            var list = new List<Guid>();
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                list.Add(reader.GetGuid(0));
            }

            users = list.Count > 0 ? list.ToArray() : throw new InvalidOperationException("the legacy database has no users to write todos for");
        }

        var counts = new ConcurrentDictionary<string, long>();
        var errors = new ConcurrentDictionary<string, long>();
        var messages = new ConcurrentDictionary<string, string>();
        var latencies = new ConcurrentDictionary<string, ConcurrentBag<double>>();
        var statements = new ConcurrentQueue<WriterStatement>();
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, _options.Connections)
            .Select(i => Task.Run(() => WorkerAsync(i, users, counts, errors, messages, latencies, statements, stop), CancellationToken.None))
            .ToArray();
        await Task.WhenAll(workers);
        sw.Stop();

        var all = latencies.Values.SelectMany(b => b).ToList();
        return new LegacyWriterReport(
            counts.ToDictionary(), errors.ToDictionary(), LatencySummary.From(all),
            latencies.ToDictionary(kv => kv.Key, kv => LatencySummary.From(kv.Value.ToList())), sw.Elapsed)
        {
            FirstMessageBySqlState = messages.ToDictionary(),
            Statements = statements.OrderBy(x => x.Started).ToList(),
        };
    }

    private async Task WorkerAsync(
        int worker, Guid[] users, ConcurrentDictionary<string, long> counts, ConcurrentDictionary<string, long> errors,
        ConcurrentDictionary<string, string> messages, ConcurrentDictionary<string, ConcurrentBag<double>> latencies, ConcurrentQueue<WriterStatement> statements, CancellationTokenSource stop)
    {
        var random = new Random(_options.Seed * 1000 + worker);
        var weights = new[] { _options.InsertWeight, _options.UpdateWeight, _options.CompleteWeight, _options.DeleteWeight, _options.BulkCompleteWeight };
        var names = new[] { Insert, Update, Complete, Delete, BulkComplete };
        var sum = weights.Sum();
        var conn = new NpgsqlConnection(connectionString);
        try
        {
            await conn.OpenAsync(stop.Token);
            while (!stop.IsCancellationRequested)
            {
                if (_options.MaxOperations is { } max && Interlocked.Increment(ref _operations) > max)
                {
                    stop.Cancel();
                    break;
                }

                var roll = random.NextDouble() * sum;
                var op = 0;
                while (op < weights.Length - 1 && roll >= weights[op])
                {
                    roll -= weights[op];
                    op++;
                }

                await using var cmd = Build(names[op], conn, random, users);
                var started = Stopwatch.GetTimestamp();
                try
                {
                    // Not cancellable mid-statement: stopping must not turn into a spurious error count.
                    await cmd.ExecuteNonQueryAsync(CancellationToken.None);
                    var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    latencies.GetOrAdd(names[op], _ => []).Add(ms);
                    statements.Enqueue(new WriterStatement(started, ms));
                    counts.AddOrUpdate(names[op], 1, (_, n) => n + 1);
                }
                catch (PostgresException e)
                {
                    errors.AddOrUpdate(e.SqlState, 1, (_, n) => n + 1);
                    messages.TryAdd(e.SqlState, e.MessageText);
                }

                if (_options.MaxOperations is null)
                {
                    Interlocked.Increment(ref _operations);
                }

                if (_options.ThinkTime > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(_options.ThinkTime, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await conn.DisposeAsync();
        }
    }

    // A random existing row: the first key at or after a random uuid (uniform over the key space, one index probe).
    private const string PickRow = "(SELECT id FROM todos WHERE id >= $1 ORDER BY id LIMIT 1)";

    private static NpgsqlCommand Build(string op, NpgsqlConnection conn, Random random, Guid[] users)
    {
        var cmd = op switch
        {
            Insert => new NpgsqlCommand(
                "INSERT INTO todos (user_id, parent_todo_id, title, description, status, priority, due_date, ai_generated) " +
                $"VALUES ($2, CASE WHEN $3 THEN {PickRow} END, $4, $5, $6, $7, now() + make_interval(days => $7), $8)", conn),
            Update => new NpgsqlCommand(
                $"UPDATE todos SET title = $4, priority = $7, description = $5, updated_at = now() WHERE id = {PickRow}", conn),
            // Some completions are back-dated past the 30-day archive cutoff, so rows also move between the new tables.
            Complete => new NpgsqlCommand(
                "UPDATE todos SET status = 'done', completed_at = now() - make_interval(days => $7 * 20), updated_at = now() " +
                "WHERE id = (SELECT id FROM todos WHERE id >= $1 AND status <> 'done' ORDER BY id LIMIT 1)", conn),
            Delete => new NpgsqlCommand($"DELETE FROM todos WHERE id = {PickRow}", conn),
            BulkComplete => new NpgsqlCommand(
                "UPDATE todos SET status = 'done', completed_at = now(), updated_at = now() " +
                "WHERE user_id = $2 AND status = 'in_progress'", conn),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };

        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        var priority = random.Next(0, 5);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = new Guid(bytes, bigEndian: true) });
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = users[random.Next(users.Length)] });
        cmd.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = random.NextDouble() < 0.1 });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"Simulated todo {random.Next():x}" });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = random.NextDouble() < 0.5 ? "written while migrating" : "" });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = random.NextDouble() < 0.3 ? "in_progress" : "todo" });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = priority });
        cmd.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = random.NextDouble() < 0.2 });
        return cmd;
    }
}
