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
}

/// <summary>The guide's functional script of <see cref="GuideFunctionalTests"/>, through the API on a distributed database.</summary>
public sealed class CitusGuideFunctionalTests(PostgresServer server, CitusServer citus) : GuideFunctionalTests(server)
{
    protected override async Task<ApiHost> StartHostAsync() =>
        await ApiHost.StartOnAsync(await DistributedDatabase.CreateAsync(citus, "citusguide"));
}
