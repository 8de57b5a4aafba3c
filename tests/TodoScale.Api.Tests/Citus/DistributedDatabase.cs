using TodoScale.Database.Distribution;

namespace TodoScale.Api.Tests.Citus;

/// <summary>A TodoScale database on the test run's Citus cluster, migrated and distributed (4 shards, blocking copy: faster).</summary>
internal static class DistributedDatabase
{
    public static async Task<string> CreateAsync(CitusServer citus, string prefix)
    {
        var cs = await citus.CreateMigratedCitusDatabaseAsync(prefix);
        await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: 4, Online: false));
        return cs;
    }
}

/// <summary>Every cross-user test of <see cref="CrossUserTests"/>, through the API on a distributed database.</summary>
public sealed class CitusCrossUserTests(PostgresServer server, CitusServer citus) : CrossUserTests(server)
{
    protected override async Task<ApiHost> StartHostAsync(Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder> configure) =>
        await ApiHost.StartOnAsync(await DistributedDatabase.CreateAsync(citus, "cituscrossuser"), configure);

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_operator_console_lists_the_coordinator_and_both_workers_with_the_shards_each_holds()
    {
        var (_, ops) = await Host.NewUserAsync(isOperator: true);

        var nodes = await (await ops.GetAsync("/api/ops/citus")).ReadAsync<List<Dictionary<string, System.Text.Json.JsonElement>>>(HttpStatusCode.OK);

        Assert.Equal(["coordinator", "worker", "worker"], nodes.Select(n => n["kind"].GetString()));
        Assert.All(nodes, n => Assert.True(n["active"].GetBoolean()));
        // 4 shards per distributed table, spread over the two workers; the reference table users has a copy on every node.
        var placements = await Host.ScalarAsync<long>("SELECT count(*) FROM citus_shards");
        Assert.Equal(placements, nodes.Sum(n => n["shards"].GetInt64()));
        Assert.All(nodes.Where(n => n["kind"].GetString() == "worker"), n => Assert.True(n["shards"].GetInt64() > 0, "a worker holds no shard"));
    }
}

/// <summary>The guide's functional script of <see cref="GuideFunctionalTests"/>, through the API on a distributed database.</summary>
public sealed class CitusGuideFunctionalTests(PostgresServer server, CitusServer citus) : GuideFunctionalTests(server)
{
    protected override async Task<ApiHost> StartHostAsync() =>
        await ApiHost.StartOnAsync(await DistributedDatabase.CreateAsync(citus, "citusguide"));
}
