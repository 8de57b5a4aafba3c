using System.CommandLine;
using System.Globalization;
using Npgsql;
using TodoScale.Cli.Commands;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;

namespace TodoScale.Cli.Demo;

/// <summary>
/// todoscale demo --workers N: the same phases on the coordinator of a built-in Citus cluster, the demo database a plain
/// one while the legacy table is migrated (the documented path: migrate on one node, then distribute), then Citus in it,
/// the workers registered, the tables distributed by user, and the API served on the distributed database.
/// </summary>
public static class DemoScaleOut
{
    public static Option<int?> WorkersOption() => new Option<int?>("--workers")
    {
        Description = "Run the demo on a built-in Citus cluster: the coordinator and N workers (as db start --workers N); after the " +
                      "single-node phases the demo database is distributed by user over the workers and the API serves it from there.",
    }.Between(1, DbClusterTopology.MaxWorkers);

    /// <summary>Starts the cluster and clears the demo database from every node; returns the coordinator's admin connection.</summary>
    public static async Task<string> StartAsync(CliContext ctx, ParseResult parse, int workers, string demoDatabase, CancellationToken ct)
    {
        if (ctx.HasExplicitDatabase(parse))
        {
            throw new ArgumentException("--workers runs the demo on the built-in Citus cluster; it cannot be combined with --database or TODOSCALE_DATABASE.");
        }

        var citus = ctx.Citus(parse);
        await DemoSteps.RunAsync($"A Citus cluster: the coordinator and {workers} worker(s) on 127.0.0.1", async () =>
        {
            await citus.StartAsync(workers, ct: ct);
            // An earlier demo's shards stay on the workers when only the coordinator drops its database.
            await citus.DropDatabaseAsync(demoDatabase, ct);
            await DbClusterTopology.ShowNodesAsync(citus, ct);
            return $"coordinator {citus.Url()}";
        });
        return citus.ConnectionString("postgres");
    }

    /// <summary>Citus in the demo database (every node), the workers registered, then the tables distributed by user.</summary>
    public static async Task DistributeAsync(CliContext ctx, ParseResult parse, string cs, CancellationToken ct)
    {
        var citus = ctx.Citus(parse);
        var database = new NpgsqlConnectionStringBuilder(cs).Database!;
        await DemoSteps.RunAsync("Scale out: the demo database on every node, Citus in it, the workers registered", async () =>
        {
            await citus.EnsureDatabaseAsync(database, ct);
            return $"{citus.LocalWorkerCount} worker(s) registered in {database}";
        });

        await DemoSteps.RunAsync("Scale out: distribute the tables by user_id (db distribute)", async () =>
        {
            // TODO(citus branch): the distribution itself (CitusDistributor) is wired in when branch citus is merged.
            await Task.CompletedTask;
            return "not yet distributed";
        });

        await DemoSteps.RunAsync("Scale out: where the shards are", async () =>
        {
            await DbClusterTopology.ShowNodesAsync(citus, ct, database);
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(ct);
            await using var count = new NpgsqlCommand("SELECT count(*) FROM citus_shards", conn);
            var placements = (long)(await count.ExecuteScalarAsync(ct))!;
            return string.Create(CultureInfo.InvariantCulture, $"{placements} shard placements");
        });
    }
}
