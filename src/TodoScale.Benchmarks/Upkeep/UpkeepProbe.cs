using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>One open todo the probe's writes update: the same id in both layouts (the migration keeps ids).</summary>
public sealed record UpkeepTarget(Guid UserId, Guid Id);

/// <summary>
/// The application beside the upkeep: half the clients read (the list including the archive, the statements of
/// <see cref="BenchQueries"/> for the layout), the other half write (one open todo's update by user and id, as every
/// edit of the application is), each in a closed loop on its own connection, recording when each request started and
/// how long it took. Readers and writers are separate clients: a reader stuck behind a lock that readers wait for
/// must not keep the writers from showing whether writes wait too. A request that waits on the upkeep's lock counts
/// in the upkeep's window if it was in flight during it, however early it started and however long it waits.
/// </summary>
internal sealed class UpkeepProbe : IAsyncDisposable
{
    private readonly List<(long Start, long End, bool Write)>[] _samples;
    private readonly List<string> _errors = [];
    private readonly TaskCompletionSource[] _ready;
    private readonly CancellationTokenSource _stop = new();
    private Task[] _clients = [];

    private UpkeepProbe(int clients)
    {
        _samples = Enumerable.Range(0, clients).Select(_ => new List<(long, long, bool)>(8192)).ToArray();
        _ready = Enumerable.Range(0, clients).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
    }

    public static UpkeepProbe Start(string connectionString, BenchLayout layout, IReadOnlyList<BenchStatement> reads, string write,
        IReadOnlyList<UpkeepTarget> targets, int clients, int seed)
    {
        // No command timeout: a write queued behind a whole-table CLUSTER waits minutes, and that wait is the figure.
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { Options = layout.ConnectionOptions, CommandTimeout = 0, ApplicationName = "todoscale bench upkeep probe" }.ConnectionString;
        // Constructed first, started after: a client started from the constructor could run before the probe exists.
        var probe = new UpkeepProbe(clients);
        probe._clients = Enumerable.Range(0, clients)
            .Select(c => Task.Run(() => probe.LoopAsync(cs, reads, write, targets, seed + c, c, probe._stop.Token))).ToArray();
        return probe;
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>
    /// Completes when every client has finished its first request (or given up with an error). A window opened before
    /// that can miss a client entirely: on a busy machine a connection still preparing its statements when a lock is
    /// taken waits out the lock inside its prepare, and the window records no read at all.
    /// </summary>
    public Task ReadyAsync(CancellationToken ct) => Task.WhenAll(_ready.Select(r => r.Task)).WaitAsync(ct);

    /// <summary>
    /// Reads and writes in flight at any moment of [from, to) (Stopwatch timestamps), with the longest of each. A
    /// request sent just before the upkeep took its lock and queued behind it waited the whole upkeep: counting only
    /// the requests that started inside the window misses exactly that wait (and found no request at all when every
    /// client was queued so).
    /// </summary>
    public (LatencyStats Reads, LatencyStats Writes, double MaxReadMs, double MaxWriteMs) During(long from, long to) =>
        Select(from, to, (start, end) => start < to && end > from);

    /// <summary>
    /// Reads and writes that started and ended within [from, to): the quiet figures before the upkeep, without the
    /// request still in flight when the upkeep began, which belongs to <see cref="During"/>.
    /// </summary>
    public (LatencyStats Reads, LatencyStats Writes, double MaxReadMs, double MaxWriteMs) Idle(long from, long to) =>
        Select(from, to, (start, end) => start >= from && end <= to);

    private (LatencyStats Reads, LatencyStats Writes, double MaxReadMs, double MaxWriteMs) Select(long from, long to, Func<long, long, bool> counts)
    {
        var reads = new List<double>();
        var writes = new List<double>();
        foreach (var client in _samples)
        {
            lock (client)
            {
                foreach (var (start, end, write) in client)
                {
                    if (counts(start, end))
                    {
                        (write ? writes : reads).Add((end - start) * 1000.0 / Stopwatch.Frequency);
                    }
                }
            }
        }

        var seconds = (to - from) / (double)Stopwatch.Frequency;
        var maxRead = reads.DefaultIfEmpty(double.NaN).Max();
        var maxWrite = writes.DefaultIfEmpty(double.NaN).Max();
        return (LatencyStats.From(reads, seconds), LatencyStats.From(writes, seconds), maxRead, maxWrite);
    }

    /// <summary>Stops the clients after their request in flight, which may be one still waiting on a lock.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }

    private async Task LoopAsync(string cs, IReadOnlyList<BenchStatement> reads, string write, IReadOnlyList<UpkeepTarget> targets, int seed, int client, CancellationToken stop)
    {
        var random = new Random(seed);
        try
        {
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(stop);
            await using var batch = await LoadDriver.PrepareBatchAsync(conn, reads, targets[0].UserId, stop);
            await using var update = new NpgsqlCommand(write, conn);
            update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid });
            update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid });
            await update.PrepareAsync(stop);

            // The request in flight is never cancelled: cancelling a write queued behind the upkeep's lock would cut
            // short the very wait being measured. The loop stops between requests.
            var writer = client % 2 == 1;
            while (!stop.IsCancellationRequested)
            {
                var target = targets[random.Next(targets.Count)];
                var t0 = Stopwatch.GetTimestamp();
                if (writer)
                {
                    update.Parameters[0].Value = target.UserId;
                    update.Parameters[1].Value = target.Id;
                    var updated = await update.ExecuteNonQueryAsync(CancellationToken.None);
                    if (updated != 1)
                    {
                        lock (_errors)
                        {
                            _errors.Add($"the update of todo {target.Id} touched {updated} rows");
                        }
                    }
                }
                else
                {
                    await LoadDriver.ExecuteOnceAsync(batch, target.UserId, CancellationToken.None);
                }

                var t1 = Stopwatch.GetTimestamp();
                lock (_samples[client])
                {
                    _samples[client].Add((t0, t1, writer));
                }

                _ready[client].TrySetResult();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            lock (_errors)
            {
                _errors.Add(e.Message);
            }
        }
        finally
        {
            _ready[client].TrySetResult();
        }
    }
}
