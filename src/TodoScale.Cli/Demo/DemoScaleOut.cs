using System.CommandLine;
using System.Globalization;
using Npgsql;
using TodoScale.Cli.Commands;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;
using TodoScale.Database.Distribution;

namespace TodoScale.Cli.Demo;

/// <summary>
/// todoscale demo --workers N: the same phases on the coordinator of a built-in Citus cluster, the demo database a plain
/// one while the legacy table is migrated (the documented path: migrate on one node, then distribute), then Citus in it,
/// the workers registered, the tables distributed by user, and the API served on the distributed database.
/// </summary>
public static class DemoScaleOut
{
    public const int DemoShardCount = 8;

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
            // Nothing writes to the demo database at this point, so the blocking copy (create_distributed_table) loses
            // nothing and is far faster than the online one; 8 shards per table suit a cluster on one machine (the online
            // copy of the default 32 shards x 17 tables of todos_active took minutes for 2,000 rows on 2 busy cores).
            var steps = await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: DemoShardCount, Online: false),
                (step, total) => Ui.Info($"  [{step.Step}/{total}] {step.Table ?? "all"}: {step.Action} ..."),
                (step, took) => Ui.Info(string.Create(CultureInfo.InvariantCulture, $"      done in {took.TotalSeconds:0.0} s")),
                ct);
            return $"{steps.Count} step(s): users a reference table; projects, todos_active, todos_archived, ai_todo_interactions distributed and colocated by user_id";
        });

        await DemoSteps.RunAsync("Scale out: where the shards are, and the top-20 query routed to one worker", async () =>
        {
            await DbClusterTopology.ShowNodesAsync(citus, ct, database);
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(ct);
            await using var heaviest = new NpgsqlCommand("SELECT user_id FROM todos_active GROUP BY user_id ORDER BY count(*) DESC LIMIT 1", conn);
            var user = (Guid)(await heaviest.ExecuteScalarAsync(ct))!;
            await using var explain = new NpgsqlCommand(
                "EXPLAIN (COSTS OFF) SELECT * FROM todos_active WHERE user_id = $1 AND status = 'todo' ORDER BY priority DESC LIMIT 20", conn);
            explain.Parameters.AddWithValue(user);
            var lines = new List<string>();
            await using (var reader = await explain.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    lines.Add(reader.GetString(0));
                }
            }

            foreach (var line in lines.Take(6))
            {
                Ui.Info("  " + line);
            }

            return lines.FirstOrDefault(l => l.Contains("Task Count", StringComparison.Ordinal))?.Trim() ?? "no Citus plan";
        });
    }
}
