using System.Diagnostics;
using System.Runtime.InteropServices;
using Npgsql;
using NpgsqlTypes;
using TodoScale.Api.Hosting;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;

namespace TodoScale.Benchmarks;

/// <summary>
/// One request of the probe (Stopwatch ticks): when it was due, when its connection became free to take it (after the
/// previous request's answer), when it was sent, when its answer was read.
/// </summary>
public readonly record struct ProbeSample(long Due, long Free, long Sent, long Done)
{
    /// <summary>
    /// Time the client itself lost between the moment it could have sent and the send: waking from its sleep late when
    /// it was idle at the due time, or getting back on a CPU after the previous answer. Not the server's doing, but the
    /// client shares the machine's cores with the server here, so during archival it waits for a CPU too.
    /// </summary>
    public long ClientLag => Sent - Math.Max(Due, Free);
}

/// <summary>
/// The user-facing load during archival: the application's list statement at a fixed request rate (open loop) over a
/// few connections. Each connection's thread takes the next slot of the schedule when it is free, sleeps until the
/// slot is due and runs it; when every connection is busy a due slot waits, and since latency counts from the slot's
/// due time, that queueing is measured. A closed loop (rate 0, one connection) measures how much CPU the query gets
/// instead: on 2 cores it competes with archival for the same core and doubles its latency without any interference.
/// </summary>
internal sealed class ArchivalProbe : IAsyncDisposable
{
    private readonly List<(NpgsqlConnection Conn, NpgsqlCommand Cmd)> _clients;
    private readonly IReadOnlyList<Guid> _users;
    private readonly long _start;
    private readonly double _intervalTicks;
    private readonly Thread[] _threads;
    private readonly List<ProbeSample>[] _samples;
    private long _next;
    private long _stopAt = long.MaxValue;
    private Exception? _failure;

    private ArchivalProbe(List<(NpgsqlConnection, NpgsqlCommand)> clients, IReadOnlyList<Guid> users, double rate, int seed)
    {
        _clients = clients;
        _users = users;
        _intervalTicks = rate > 0 ? Stopwatch.Frequency / rate : 0;
        _samples = clients.Select(_ => new List<ProbeSample>(16_384)).ToArray();
        _start = Stopwatch.GetTimestamp();
        _threads = clients.Select((_, i) => new Thread(() => Loop(i, seed + i)) { IsBackground = true, Name = $"archival-probe-{i}" }).ToArray();
        foreach (var t in _threads)
        {
            t.Start();
        }
    }

    public IEnumerable<int> BackendPids => _clients.Select(c => c.Conn.ProcessID);

    public static async Task<ArchivalProbe> StartAsync(string connectionString, IReadOnlyList<Guid> users, double rate, int connections, int seed, CancellationToken ct)
    {
        var clients = new List<(NpgsqlConnection, NpgsqlCommand)>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var conn = new NpgsqlConnection(connectionString);
                await conn.OpenAsync(ct);
                var cmd = new NpgsqlCommand(TodoQueries.ListActivePage, conn);
                // As TodoService.ListTodosAsync binds the first page of a list without filters: the user, then
                // status, project, due_before, due_after, the keyset cursor (none) and the limit (one more than a page).
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = users[0] });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = DBNull.Value });
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = TodoListQuery.DefaultLimit + 1 });
                await cmd.PrepareAsync(ct);
                clients.Add((conn, cmd));
                // The first execution builds the generic plan: once per connection, not part of any window.
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                }
            }
        }
        catch
        {
            foreach (var (conn, cmd) in clients)
            {
                await cmd.DisposeAsync();
                await conn.DisposeAsync();
            }

            throw;
        }

        return new ArchivalProbe(clients, users, rate, seed);
    }

    private void Loop(int client, int seed)
    {
        var random = new Random(seed);
        var cmd = _clients[client].Cmd;
        var samples = _samples[client];
        try
        {
            while (true)
            {
                var free = Stopwatch.GetTimestamp();
                var slot = Interlocked.Increment(ref _next) - 1;
                var due = _intervalTicks > 0 ? _start + (long)(slot * _intervalTicks) : Stopwatch.GetTimestamp();
                if (due >= Volatile.Read(ref _stopAt) || Volatile.Read(ref _failure) is not null)
                {
                    return;
                }

                SleepUntil(due);
                cmd.Parameters[0].Value = _users[random.Next(_users.Count)];
                var sent = Stopwatch.GetTimestamp();
                using (var reader = cmd.ExecuteReader())
                {
                    while (reader.Read())
                    {
                    }
                }

                samples.Add(new ProbeSample(due, free, sent, Stopwatch.GetTimestamp()));
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
    }

    /// <summary>Stops scheduling, waits for the requests in flight and returns every request's timings.</summary>
    public async Task<IReadOnlyList<ProbeSample>> StopAsync()
    {
        Volatile.Write(ref _stopAt, Stopwatch.GetTimestamp());
        await Task.Run(() =>
        {
            foreach (var t in _threads)
            {
                t.Join();
            }
        });
        if (_failure is not null)
        {
            throw new InvalidOperationException($"the list query probe failed: {_failure.Message}", _failure);
        }

        return _samples.SelectMany(s => s).OrderBy(s => s.Due).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _stopAt, long.MinValue);
        foreach (var t in _threads)
        {
            await Task.Run(t.Join);
        }

        foreach (var (conn, cmd) in _clients)
        {
            await cmd.DisposeAsync();
            await conn.DisposeAsync();
        }
    }

    /// <summary>The requests due in [from, to): latency from the due time, service time from sending.</summary>
    public static ProbeWindow Window(IReadOnlyList<ProbeSample> samples, long from, long to, long indexEntriesRead)
    {
        var inWindow = samples.Where(s => s.Due >= from && s.Due < to).ToList();
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        if (inWindow.Count == 0)
        {
            return new ProbeWindow(0, seconds, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var latency = inWindow.Select(s => Ms(s.Done - s.Due)).Order().ToArray();
        var service = inWindow.Select(s => Ms(s.Done - s.Sent)).Order().ToArray();
        var withoutLag = inWindow.Select(s => Ms(s.Done - s.Due - s.ClientLag)).Order().ToArray();
        var lag = inWindow.Select(s => Ms(s.ClientLag)).Order().ToArray();
        double At(double[] v, double q) => v[Math.Min(v.Length - 1, Math.Max(0, (int)Math.Ceiling(q * v.Length) - 1))];
        return new ProbeWindow(latency.Length, seconds, At(latency, 0.50), At(latency, 0.95), At(latency, 0.99), latency[^1], At(service, 0.99),
            (double)indexEntriesRead / latency.Length, At(withoutLag, 0.99), At(lag, 0.99));
    }

    // Thread.Sleep and Task.Delay wake on whole milliseconds: up to 1 ms of made-up latency on a query of 0.5 ms, more
    // than the effect being measured, and it would shrink every ratio. nanosleep wakes within the kernel's timer slack
    // (~50 µs) without spinning a core that the archival and the server need.
    private static void SleepUntil(long due)
    {
        while (true)
        {
            var remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            var ns = (long)(remaining * (1_000_000_000.0 / Stopwatch.Frequency));
            if (OperatingSystem.IsLinux())
            {
                var ts = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
                _ = NanoSleep(ref ts, IntPtr.Zero);
            }
            else
            {
                Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, ns / 100)));
            }
        }
    }

    [StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "nanosleep", SetLastError = true)]
    private static extern int NanoSleep(ref Timespec request, IntPtr remaining);
}
