using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>Latency distribution and throughput of one scenario cell.</summary>
public sealed record LatencyStats(long Count, double Seconds, double P50Ms, double P95Ms, double P99Ms, double MeanMs)
{
    public double PerSecond => Seconds > 0 ? Count / Seconds : 0;

    /// <summary>The median of each figure over several rounds of the same cell.</summary>
    public static LatencyStats MedianOf(IReadOnlyList<LatencyStats> rounds)
    {
        // Count and seconds keep the median rate: PerSecond of the result is the median of the rounds' rates.
        var rate = Median(rounds.Select(r => r.PerSecond));
        var seconds = rounds.Sum(r => r.Seconds);
        return new LatencyStats((long)Math.Round(rate * seconds), seconds,
            Median(rounds.Select(r => r.P50Ms)), Median(rounds.Select(r => r.P95Ms)), Median(rounds.Select(r => r.P99Ms)), Median(rounds.Select(r => r.MeanMs)));
    }

    /// <summary>The median of the values that are numbers; NaN when there are none.</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    public static LatencyStats From(List<double> latenciesMs, double seconds)
    {
        if (latenciesMs.Count == 0)
        {
            return new LatencyStats(0, seconds, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        latenciesMs.Sort();
        double At(double q) => latenciesMs[Math.Min(latenciesMs.Count - 1, (int)Math.Ceiling(q * latenciesMs.Count) - 1)];
        return new LatencyStats(latenciesMs.Count, seconds, At(0.50), At(0.95), At(0.99), latenciesMs.Average());
    }
}

/// <summary>
/// Drives one statement set through Npgsql as the application does: each client holds one connection,
/// prepares the statements once and executes them with a user id drawn from the given set, closed loop
/// (next request as soon as the previous answered). Latency is measured on the client, end to end.
/// </summary>
public static class LoadDriver
{
    public static async Task<LatencyStats> RunAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<BenchStatement> statements, IReadOnlyList<Guid> users, int clients,
        TimeSpan warmup, TimeSpan duration, int seed, CancellationToken ct)
    {
        var ready = new List<(NpgsqlConnection Conn, NpgsqlBatch Batch)>();
        try
        {
            for (var c = 0; c < clients; c++)
            {
                var conn = await dataSource.OpenConnectionAsync(ct);
                var batch = conn.CreateBatch();
                foreach (var statement in statements)
                {
                    var cmd = new NpgsqlBatchCommand(statement.Sql);
                    AddParameters(cmd.Parameters, statement, users[0]);
                    batch.BatchCommands.Add(cmd);
                }

                await batch.PrepareAsync(ct);
                ready.Add((conn, batch));
            }

            // One unmeasured call per client before the clock starts: the first execution on a connection builds the
            // plan, and after the growth stage re-attaches 100+ archive months that re-planning outlasted the whole
            // time-based warm-up, charging one layout for what the application pays once per connection.
            await Task.WhenAll(ready.Select((r, i) => ExecuteOnceAsync(r.Batch, users[i % users.Count], ct)));

            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            var stopAt = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var perClient = await Task.WhenAll(ready.Select((r, i) => Task.Run(
                () => ClientLoopAsync(r.Batch, users, measureFrom, stopAt, seed + i, ct), ct)));
            var all = new List<double>(perClient.Sum(l => l.Count));
            foreach (var l in perClient)
            {
                all.AddRange(l);
            }

            return LatencyStats.From(all, duration.TotalSeconds);
        }
        finally
        {
            foreach (var (conn, batch) in ready)
            {
                await batch.DisposeAsync();
                await conn.DisposeAsync();
            }
        }
    }

    private static async Task ExecuteOnceAsync(NpgsqlBatch batch, Guid user, CancellationToken ct)
    {
        foreach (var cmd in batch.BatchCommands)
        {
            cmd.Parameters[0].Value = user;
        }

        await using var reader = await batch.ExecuteReaderAsync(ct);
        do
        {
            while (await reader.ReadAsync(ct))
            {
            }
        }
        while (await reader.NextResultAsync(ct));
    }

    private static async Task<List<double>> ClientLoopAsync(
        NpgsqlBatch batch, IReadOnlyList<Guid> users, long measureFrom, long stopAt, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        var latencies = new List<double>(4096);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var user = users[random.Next(users.Count)];
            var t0 = Stopwatch.GetTimestamp();
            // On a loaded machine one slow warm-up call can outlast the whole window: each client still measures
            // at least one call, or a cell would have no figure at all.
            if (t0 >= stopAt && latencies.Count > 0)
            {
                break;
            }

            await ExecuteOnceAsync(batch, user, ct);

            var t1 = Stopwatch.GetTimestamp();
            // Every call started in the window counts, including one that ends after it: dropping the slow
            // calls that straddle the end would bias the tail percentiles down.
            if (t0 >= measureFrom)
            {
                latencies.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
            }
        }

        return latencies;
    }

    /// <summary>Every row of every statement for one user, as text: used to check that all layouts answer alike.</summary>
    public static async Task<string> AnswerAsync(NpgsqlDataSource dataSource, IReadOnlyList<BenchStatement> statements, Guid user, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var sb = new System.Text.StringBuilder();
        foreach (var statement in statements)
        {
            await using var cmd = new NpgsqlCommand(statement.Sql, conn);
            AddParameters(cmd.Parameters, statement, user);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    if (reader.GetName(i) == "archived_at")
                    {
                        // When a row was archived is known only to the archive; the baselines cannot answer it.
                        continue;
                    }

                    sb.Append(reader.IsDBNull(i) ? "∅" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }

                sb.Append('\n');
            }

            sb.Append("--\n");
        }

        return sb.ToString();
    }

    /// <summary>$1 the user, then the statement's own values, typed as the application types them.</summary>
    public static void AddParameters(NpgsqlParameterCollection parameters, BenchStatement statement, Guid user)
    {
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = user });
        foreach (var arg in statement.Args)
        {
            parameters.Add(new NpgsqlParameter { NpgsqlDbType = arg.Type, Value = arg.Value ?? DBNull.Value });
        }
    }
}
