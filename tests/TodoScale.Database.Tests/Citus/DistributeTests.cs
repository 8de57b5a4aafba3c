using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Distribution;

namespace TodoScale.Database.Tests.Citus;

/// <summary>
/// migrations/citus/distribute.sql (todoscale db distribute) on a coordinator with two workers: online while the
/// application writes, nothing lost, every table where it belongs, and a second run that does nothing.
/// </summary>
public sealed class DistributeTests(CitusServer citus)
{
    // Marks the writers' rows, so the seeded rows can be fingerprinted apart from them.
    private const string WriterTitle = "writer";

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task distributing_while_the_application_writes_loses_no_row_fails_no_write_and_a_second_run_does_nothing()
    {
        var cs = await citus.CreateMigratedCitusDatabaseAsync("distribute");
        await Sql.ExecAsync(cs, CitusData.SeedSql);
        var seededFilter = $"NOT (to_jsonb(t) ->> 'title' IS NOT DISTINCT FROM '{WriterTitle}' OR to_jsonb(t) ->> 'interaction_type' IS NOT DISTINCT FROM '{WriterTitle}')";
        var before = await CitusData.FingerprintsAsync(cs, seededFilter);
        var users = await Sql.ScalarAsync<Guid[]>(cs, "SELECT array_agg(id ORDER BY email) FROM users");

        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<string>();
        var latencies = new ConcurrentBag<double>();
        var written = new int[2];
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var user = users[random.Next(users.Length)];
                var watch = Stopwatch.StartNew();
                try
                {
                    // What the application does per request: one connection from the pool, a few statements of one user.
                    await using var conn = new NpgsqlConnection(cs);
                    await conn.OpenAsync();
                    var id = await Sql.ScalarAsync<Guid>(conn,
                        "INSERT INTO todos_active (user_id, title, priority) VALUES ($1, $2, 1) RETURNING id", user, WriterTitle);
                    await Sql.ExecAsync(conn,
                        "UPDATE todos_active SET status = 'done', completed_at = now(), updated_at = now() WHERE user_id = $1 AND id = $2", user, id);
                    await Sql.ExecAsync(conn,
                        "INSERT INTO ai_todo_interactions (user_id, todo_id, interaction_type) VALUES ($1, $2, $3)", user, id, WriterTitle);
                    Interlocked.Increment(ref written[w]);
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                }
                catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
                {
                    failures.Enqueue(e.Message);
                }

                await Task.Delay(20);
            }
        })).ToArray();

        var distributing = Stopwatch.StartNew();
        var steps = await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: 4));
        var took = distributing.Elapsed;
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Empty(failures);
        Assert.True(written.Sum() > 0, "the writers wrote nothing while the tables were distributed");
        Assert.Equal(["users", "projects", "todos_active", "todos_archived", "ai_todo_interactions"],
            steps.Where(s => s.Statement.Contains("create_", StringComparison.Ordinal)).Select(s => s.Table!).ToArray());
        Assert.Equal("reference", await CitusData.CitusTypeAsync(cs, "users"));
        foreach (var table in CitusData.Tables.Skip(1))
        {
            Assert.Equal("distributed", await CitusData.CitusTypeAsync(cs, table));
        }

        Assert.Equal(1L, await Sql.ScalarAsync<long>(cs,
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE logicalrelid IN ('projects'::regclass, 'todos_active'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass)"));
        Assert.Equal(CitusServer.WorkerCount, await Sql.ScalarAsync<long>(cs,
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'todos_active'::regclass"));

        var after = await CitusData.FingerprintsAsync(cs, seededFilter);
        Assert.Equal(before, after);
        Assert.Equal(written.Sum(), await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM todos_active WHERE title = $1 AND status = 'done'", WriterTitle));
        Assert.Equal(written.Sum(), await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM ai_todo_interactions WHERE interaction_type = $1", WriterTitle));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(cs,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'todos_active'::regclass AND tgname = 'todos_active_touch_updated_at'"));

        var everything = await CitusData.FingerprintsAsync(cs);
        var again = await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: 4));
        Assert.Empty(again);
        Assert.Equal(everything, await CitusData.FingerprintsAsync(cs));
        // The figures docs/scale-out.md quotes (dotnet test ... --logger "console;verbosity=detailed" shows them).
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"distributed {before.Values.Sum(v => v.Rows)} rows in {took.TotalSeconds:0.0} s with {written.Sum()} writer requests meanwhile " +
            $"(3 statements each); request p50 {Percentile(latencies, 0.5):0.0} ms, p99 {Percentile(latencies, 0.99):0} ms, max {latencies.DefaultIfEmpty(0).Max():0} ms");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_database_without_the_citus_extension_is_refused_before_anything_changes()
    {
        var cs = await CitusData.PlainDatabaseOnCoordinatorAsync(citus, "nocitus");
        await new TodoScale.Database.Schema.SchemaMigrator(cs).MigrateAsync();

        var e = await Assert.ThrowsAsync<CitusNotAvailableException>(() => new CitusDistributor(cs).RunAsync(new DistributionOptions()));

        Assert.Contains("CREATE EXTENSION citus", e.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(cs,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'todos_active'::regclass AND tgname = 'todos_active_touch_updated_at'"));
    }

    private static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(p * sorted.Length))];
    }
}
