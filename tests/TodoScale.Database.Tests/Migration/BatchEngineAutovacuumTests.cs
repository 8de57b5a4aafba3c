using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;
using TodoScale.Database.Tests.Cluster;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// A real autovacuum, on a cluster of its own (autovacuum wakes every second there; the shared test server keeps
/// the default minute): working on a table the job fills it slows the job to half speed, working on the job's
/// source it pauses it. Pausing for the vacuum of the job's own inserts made the copy stall itself.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BatchEngineAutovacuumTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task an_autovacuum_of_a_table_the_job_fills_slows_it_and_of_the_table_it_reads_pauses_it()
    {
        var folder = ClusterFolders.Create("todoscale-autovacuum-", ClusterFolders.Open);
        var cluster = new LocalCluster(Path.Combine(folder.FullName, "pg"), new LocalClusterOptions
        {
            Durable = false,
            Settings = new Dictionary<string, string> { ["autovacuum_naptime"] = "1s" },
        });
        try
        {
            var ct = TestContext.Current.CancellationToken;
            await cluster.StartAsync(database: "engine_autovacuum", ct: ct);
            var cs = cluster.ConnectionString("engine_autovacuum");
            await new SchemaMigrator(cs).MigrateAsync();
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(ct);
            // An autovacuum that starts after 1,000 inserted rows and then crawls (100 ms of sleep after every page):
            // still running while the engine looks.
            await ExecAsync(conn, """
                CREATE TABLE engine_source (id int);
                CREATE TABLE engine_filled (id int, pad text) WITH (
                    autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0,
                    autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1);
                INSERT INTO engine_filled SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
                """);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'engine_filled'::regclass") == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "no autovacuum of engine_filled started within 60 s");
                await Task.Delay(100, ct);
            }

            await ExecAsync(conn, "SELECT batch_engine_configure('fills', ARRAY['engine_source', 'engine_filled'])");
            await ExecAsync(conn, "SELECT batch_engine_configure('reads', ARRAY['engine_filled', 'engine_source'])");
            // The same job with a WAL budget of 1 kB/s, then over 1 s of WAL far above it: the pause must win over half speed.
            await ExecAsync(conn, "SELECT batch_engine_configure('fills_wal', ARRAY['engine_source', 'engine_filled'], p_wal_budget_mb => 0.001)");
            var configured = DateTime.UtcNow;
            await ExecAsync(conn, "INSERT INTO engine_source SELECT g FROM generate_series(1, 20000) g");
            var windowLeft = TimeSpan.FromSeconds(1.1) - (DateTime.UtcNow - configured);
            if (windowLeft > TimeSpan.Zero)
            {
                await Task.Delay(windowLeft, ct);
            }

            var fills = await RowsAsync(conn, "SELECT action, signal, reason, pause_ms FROM batch_engine_check('fills')", Check);
            var reads = await RowsAsync(conn, "SELECT action, signal, reason, pause_ms FROM batch_engine_check('reads')", Check);
            var overBudget = await RowsAsync(conn, "SELECT action, signal, reason, pause_ms FROM batch_engine_check('fills_wal')", Check);
            Assert.True(await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'engine_filled'::regclass") == 1,
                "the autovacuum ended while the engine looked; make it slower");

            var slow = Assert.Single(fills);
            Assert.Equal(("slow", "autovacuum", 200), (slow.Action, slow.Signal, slow.PauseMs));   // no batch yet: as long as the target time
            Assert.Matches(@"^autovacuum on engine_filled \(.*\), rows this job wrote: half speed$", slow.Reason);
            var pause = Assert.Single(reads);
            Assert.Equal(("pause", "vacuum", 1_000), (pause.Action, pause.Signal, pause.PauseMs));
            Assert.Matches(@"^paused 0\.0 s: autovacuum on engine_filled \(", pause.Reason);
            Assert.Equal(("pause", "wal"), (overBudget.Single().Action, overBudget.Single().Signal));
        }
        finally
        {
            await ClusterFolders.StopAndDeleteAsync(cluster, folder);
        }
    }

    private static (string Action, string Signal, string Reason, int PauseMs) Check(NpgsqlDataReader r) =>
        (r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3));
}
