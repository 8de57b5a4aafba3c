namespace TodoScale.Database.Tests.Cluster;

/// <summary>The Citus test fixture: a coordinator and two workers, a Citus database per test class.</summary>
public sealed class CitusServerTests(CitusServer citus)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_citus_test_database_has_both_workers_registered_and_distributes_rows_over_them()
    {
        var cs = await citus.CreateCitusDatabaseAsync(nameof(CitusServerTests));
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(TestContext.Current.CancellationToken);

        var workers = await ScalarAsync<long>(conn, "SELECT count(*) FROM citus_get_active_worker_nodes()");
        await ExecAsync(conn, "CREATE TABLE items (user_id int, id int, PRIMARY KEY (user_id, id))");
        await ExecAsync(conn, "SELECT create_distributed_table('items', 'user_id', shard_count => 4)");
        await ExecAsync(conn, "INSERT INTO items SELECT u, i FROM generate_series(1, 50) u, generate_series(1, 4) i");
        var nodesWithShards = await ScalarAsync<long>(conn, "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'items'::regclass");
        var rows = await ScalarAsync<long>(conn, "SELECT count(*) FROM items");

        Assert.Equal(CitusServer.WorkerCount, workers);
        Assert.Equal(CitusServer.WorkerCount, nodesWithShards);
        Assert.Equal(200, rows);
    }
}
