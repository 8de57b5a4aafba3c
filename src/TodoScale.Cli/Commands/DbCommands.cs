using System.CommandLine;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale db start|stop|status|url|migrate</summary>
public static class DbCommands
{
    public static Command Create(CliContext ctx)
    {
        var db = new Command("db", "Manage the built-in PostgreSQL and the TodoScale schema.");

        var start = new Command("start", "Create (first time) and start the built-in PostgreSQL: one server, a Citus coordinator with workers (--workers) or a primary with streaming standbys (--replicas), not both; prints its URL.");
        var workers = DbClusterTopology.WorkersOption();
        var replicas = DbReplicaCommands.ReplicasOption();
        start.Options.Add(workers);
        start.Options.Add(replicas);
        DbClusterTopology.RefuseWithReplicas(start, workers);
        start.SetHandler(async (parse, ct) =>
        {
            if (parse.GetValue(workers) is not null || ctx.IsCitus(parse))
            {
                // A folder that is already a Citus coordinator: standbys of it are not a supported combination.
                DbReplicaCommands.RefuseOnCitus(parse.GetValue(replicas));
                return await DbClusterTopology.StartAsync(ctx, parse, parse.GetValue(workers), ct);
            }

            var cluster = ctx.LocalCluster(parse);
            await DbReplicaCommands.StartAsync(cluster, parse.GetValue(replicas), ct);
            Ui.Success($"PostgreSQL running in {cluster.ServerRoot} (password authentication; password file {cluster.PasswordFile})");
            Console.WriteLine(cluster.Url());
            return ExitCodes.Success;
        });

        var stop = new Command("stop", "Stop the built-in PostgreSQL: its standbys, or every node of a Citus cluster (data is kept).");
        stop.SetHandler(async (parse, ct) =>
        {
            if (ctx.IsCitus(parse))
            {
                return await DbClusterTopology.StopAsync(ctx, parse, ct);
            }

            var cluster = ctx.LocalCluster(parse);
            await DbReplicaCommands.StopAsync(cluster, ct);
            Ui.Info($"PostgreSQL in {cluster.ServerRoot} is stopped.");
            return ExitCodes.Success;
        });

        var url = new Command("url", "Print the connection URL of the database in use (for psql, pg_dump, TODOSCALE_DATABASE); the built-in one names its password file (passfile=) instead of holding the password.");
        var all = DbReplicaCommands.AllOption();
        url.Options.Add(all);
        url.SetHandler(async (parse, ct) =>
        {
            if (parse.GetValue(all) && !ctx.HasExplicitDatabase(parse))
            {
                await ctx.LocalCluster(parse).StartAsync(ct: ct);
                await DbReplicaCommands.PrintUrlsAsync(ctx.LocalCluster(parse), ct);
                return ExitCodes.Success;
            }

            if (ctx.HasExplicitDatabase(parse))
            {
                Console.WriteLine(await ctx.ResolveConnectionStringAsync(parse, ct));
                return ExitCodes.Success;
            }

            if (ctx.IsCitus(parse))
            {
                return await DbClusterTopology.UrlAsync(ctx, parse, ct);
            }

            var cluster = ctx.LocalCluster(parse);
            await cluster.StartAsync(ct: ct);
            Console.WriteLine(cluster.Url());
            return ExitCodes.Success;
        });

        var status = new Command("status", "Show the built-in server's state (every node of a Citus cluster: role, port, state, shards), applied and pending scripts, and the partitions present.");
        status.SetHandler(async (parse, ct) =>
        {
            string? citusCoordinator = null;
            if (!ctx.HasExplicitDatabase(parse) && ctx.IsCitus(parse))
            {
                // Status only looks: the coordinator's database directly, never a start of the stopped nodes.
                citusCoordinator = await DbClusterTopology.ShowStatusAsync(ctx, parse, ct);
                if (citusCoordinator is null)
                {
                    return ExitCodes.Success;
                }
            }
            else if (!ctx.HasExplicitDatabase(parse))
            {
                var cluster = ctx.LocalCluster(parse);
                var state = await cluster.GetStateAsync(ct);
                Ui.Info($"built-in PostgreSQL ({cluster.ServerRoot}): {state.ToString().ToLowerInvariant()}" +
                        (state == LocalClusterState.Running ? $" on {cluster.Url()}" : ""));
                if (state != LocalClusterState.NotCreated)
                {
                    Ui.Info($"  password authentication (scram-sha-256); password file {cluster.PasswordFile}" +
                            (cluster.Relocated ? $"; data kept in {cluster.ServerRoot} because the server's user cannot reach {cluster.Root}" : ""));
                }
                if (state != LocalClusterState.Running)
                {
                    return ExitCodes.Success;
                }

                await DbReplicaCommands.PrintStatusAsync(cluster, ct);
            }

            var cs = citusCoordinator ?? await ctx.ResolveConnectionStringAsync(parse, ct);
            var schema = await new SchemaMigrator(cs).GetStatusAsync(ct);
            Ui.Table(["script", "state"],
                schema.Applied.Select(s => (IReadOnlyList<string>)[s, "applied"])
                    .Concat(schema.Pending.Select(s => (IReadOnlyList<string>)[s, "pending"])));
            Ui.Table(["table", "partitions", "bounds"],
                schema.Partitions.GroupBy(p => p.Parent).Select(g => (IReadOnlyList<string>)
                [
                    g.Key, g.Count().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    string.Join(", ", g.Select(p => p.Name.Replace(g.Key + "_", "")).Take(6)) + (g.Count() > 6 ? ", ..." : ""),
                ]));
            return ExitCodes.Success;
        });

        var migrate = new Command("migrate", "Apply the pending schema scripts (migrations/scaling) in order; a no-op when up to date.");
        migrate.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var applied = await new SchemaMigrator(cs).MigrateAsync(
                script => Ui.Info($"applied {script}"),
                () => Ui.Info("another todoscale is migrating this database; waiting for it to finish ..."),
                ct);
            Ui.Success(applied.Count == 0 ? "schema is up to date" : $"{applied.Count} script(s) applied");
            return ExitCodes.Success;
        });

        foreach (var c in new[] { start, stop, status, url, migrate })
        {
            db.Subcommands.Add(c);
        }

        db.Subcommands.Add(DbDistributeCommand.Create(ctx));
        db.Subcommands.Add(DbAddWorkerCommand.Create(ctx));

        return db;
    }
}
