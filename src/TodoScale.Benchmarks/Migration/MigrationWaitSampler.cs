using Npgsql;
using TodoScale.Database.Migration;

namespace TodoScale.Benchmarks;

/// <summary>
/// While a live run copies: how long any session has been waiting for a lock that the migration's session holds,
/// sampled from <c>pg_locks.waitstart</c> every <see cref="Interval"/>. The writers' own latency cannot tell a wait on
/// the migration from a wait on another application transaction (the held-user run holds a user for seconds on
/// purpose); this is the figure the lock bound (one batch) is about.
/// </summary>
public sealed class MigrationWaitSampler(string connectionString) : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    // Transitively: a second writer queued for the same row waits on the first one's tuple lock, and
    // pg_blocking_pids() names that writer, not the migration; it waits on the migration all the same. The
    // migration's own sessions are left out: their waits (a batch waiting for one row, a concurrent index build
    // waiting for older transactions) make nobody else wait, and counting them reported those as waits on the migration.
    private const string Sql = """
        WITH RECURSIVE migration AS (
            SELECT a.pid FROM pg_stat_activity a WHERE a.application_name = $1 AND a.datname = current_database()
        ), behind(pid) AS (
            SELECT m.pid FROM migration m
            UNION
            SELECT w.pid FROM pg_stat_activity w JOIN behind b ON b.pid = ANY (pg_blocking_pids(w.pid)))
        SELECT coalesce(max(extract(epoch FROM clock_timestamp() - l.waitstart)) * 1000, 0)::float8
        FROM pg_locks l JOIN behind b ON b.pid = l.pid
        WHERE NOT l.granted AND l.waitstart IS NOT NULL AND l.pid NOT IN (SELECT m.pid FROM migration m)
        """;

    private readonly CancellationTokenSource _stop = new();
    private Task<double>? _sampling;

    /// <summary>The longest wait seen, in ms (0: nobody was seen waiting on the migration).</summary>
    public double MaxWaitMs { get; private set; }

    public void Start() => _sampling = SampleAsync(_stop.Token);

    public async Task<double> StopAsync()
    {
        await _stop.CancelAsync();
        MaxWaitMs = _sampling is null ? 0 : await _sampling;
        return MaxWaitMs;
    }

    private async Task<double> SampleAsync(CancellationToken ct)
    {
        var max = 0.0;
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(CancellationToken.None);
        await using var cmd = new NpgsqlCommand(Sql, conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = MigrationRunner.ApplicationName });
        await cmd.PrepareAsync(CancellationToken.None);
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                max = Math.Max(max, (double)(await cmd.ExecuteScalarAsync(CancellationToken.None))!);
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // Stopped: the run is over.
        }

        return max;
    }

    public async ValueTask DisposeAsync()
    {
        if (_sampling is not null && !_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }
}
