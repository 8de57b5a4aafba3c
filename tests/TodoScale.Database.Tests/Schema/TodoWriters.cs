using System.Collections.Concurrent;
using System.Diagnostics;

namespace TodoScale.Database.Tests.Schema;

/// <summary>
/// Application-like writers on todos_active: each on its own connection, alternating an INSERT of a new todo
/// and an UPDATE of an existing one, for users spread over all 16 partitions, timing every statement.
/// </summary>
internal sealed class TodoWriters : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentBag<Write> _writes = [];
    private readonly ConcurrentBag<Exception> _errors = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];

    public sealed record Write(TimeSpan Start, TimeSpan Latency, int Partition);

    private sealed record Target(Guid UserId, Guid TodoId, int Partition);

    public static async Task<TodoWriters> StartAsync(string connectionString, int writers)
    {
        var targets = new List<Target>();
        await using (var conn = new NpgsqlConnection(connectionString))
        {
            await conn.OpenAsync();
            // One todo of each of 400 users: every partition gets written.
            await using var cmd = new NpgsqlCommand("""
                SELECT user_id, id, substring(tableoid::regclass::text from '(\d+)$')::int
                FROM (SELECT DISTINCT ON (user_id) user_id, id, tableoid FROM todos_active ORDER BY user_id, id) t
                ORDER BY md5(user_id::text) LIMIT 400
                """, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                targets.Add(new Target(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2)));
            }
        }

        var w = new TodoWriters();
        for (var i = 0; i < writers; i++)
        {
            var seed = i;
            w._tasks.Add(Task.Run(() => w.WriteUntilStoppedAsync(connectionString, targets, seed)));
        }

        return w;
    }

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyCollection<Write> Writes => _writes;

    public IReadOnlyCollection<Exception> Errors => _errors;

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }

    private async Task WriteUntilStoppedAsync(string connectionString, List<Target> targets, int seed)
    {
        var random = new Random(seed);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        // A write that waited on a lock for good must end the test with a failure, not hang it.
        await using (var set = new NpgsqlCommand("SET statement_timeout = '60s'", conn))
        {
            await set.ExecuteNonQueryAsync();
        }

        await using var insert = new NpgsqlCommand(
            "INSERT INTO todos_active (user_id, title, priority, due_date) VALUES ($1, $2, $3, now() + interval '1 day')", conn);
        insert.Parameters.Add(new NpgsqlParameter<Guid>());
        insert.Parameters.Add(new NpgsqlParameter<string>());
        insert.Parameters.Add(new NpgsqlParameter<int>());
        await using var update = new NpgsqlCommand(
            "UPDATE todos_active SET title = $2, priority = $3 WHERE user_id = $1 AND id = $4", conn);
        update.Parameters.Add(new NpgsqlParameter<Guid>());
        update.Parameters.Add(new NpgsqlParameter<string>());
        update.Parameters.Add(new NpgsqlParameter<int>());
        update.Parameters.Add(new NpgsqlParameter<Guid>());

        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var target = targets[random.Next(targets.Count)];
            var cmd = n % 2 == 0 ? insert : update;
            cmd.Parameters[0].Value = target.UserId;
            cmd.Parameters[1].Value = $"written during the index build {n}";
            cmd.Parameters[2].Value = random.Next(5);
            if (cmd == update)
            {
                cmd.Parameters[3].Value = target.TodoId;
            }

            var start = _clock.Elapsed;
            try
            {
                await cmd.ExecuteNonQueryAsync();
                _writes.Add(new Write(start, _clock.Elapsed - start, target.Partition));
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                _errors.Add(e);
            }

            // About a hundred writes a second per writer: a steady load, not a benchmark of this machine.
            await Task.Delay(10, CancellationToken.None);
        }
    }
}
