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

        var replicas = DbReplicaCommands.ReplicasOption();
        var start = new Command("start", "Create (first time) and start the built-in PostgreSQL (and its standbys: --replicas); prints its URL.") { replicas };
        start.SetHandler(async (parse, ct) =>
        {
            DbReplicaCommands.RefuseWorkers(parse, parse.GetValue(replicas));
            var cluster = ctx.LocalCluster(parse);
            await DbReplicaCommands.StartAsync(cluster, parse.GetValue(replicas), ct);
            Ui.Success($"PostgreSQL running in {cluster.ServerRoot} (password authentication; password file {cluster.PasswordFile})");
            Console.WriteLine(cluster.Url());
            return ExitCodes.Success;
        });

        var stop = new Command("stop", "Stop the built-in PostgreSQL and its standbys (data is kept).");
        stop.SetHandler(async (parse, ct) =>
        {
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

            var cluster = ctx.LocalCluster(parse);
            await cluster.StartAsync(ct: ct);
            Console.WriteLine(cluster.Url());
            return ExitCodes.Success;
        });

        var status = new Command("status", "Show the built-in server's state, applied and pending scripts, and the partitions present.");
        status.SetHandler(async (parse, ct) =>
        {
            if (!ctx.HasExplicitDatabase(parse))
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

            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
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

        return db;
    }
}
