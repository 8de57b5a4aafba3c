using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;

namespace TodoScale.Cli.Commands;

/// <summary>
/// todoscale db add-worker: one more Citus worker (a new local folder of the built-in cluster, or --host/--port of a
/// running one), registered in the coordinator's Citus databases, then an online rebalance with a progress line.
/// Exit 0 done, 2 bad arguments or no coordinator to add to, 3 a database error or a failed rebalance, 4 no Citus,
/// 5 another rebalance is running, 130 interrupted (the rebalance goes on in the background).
/// </summary>
public static class DbAddWorkerCommand
{
    public static Command Create(CliContext ctx)
    {
        var host = new Option<string?>("--host") { Description = "Host of a running worker to register instead of starting a local one (with --port)." }
            .Refusing(OptionRules.PlainText(255));
        var port = new Option<int?>("--port") { Description = "Port of that worker (with --host)." }.Between(1, 65535);
        var noRebalance = new Option<bool>("--no-rebalance") { Description = "Register the worker only; move no shards (run SELECT citus_rebalance_start(); later)." };

        var command = new Command("add-worker",
            "Add a Citus worker: on the built-in cluster (started with db start --workers N) start one more local worker, or register --host/--port " +
            "of a running one with the coordinator (--database or the built-in one); then rebalance shards online (citus_rebalance_start: " +
            "shards move by logical replication while writes go on) with progress. The rebalance needs wal_level = logical on every node and a " +
            "primary key (replica identity) on every distributed table.");
        command.Options.Add(host);
        command.Options.Add(port);
        command.Options.Add(noRebalance);
        command.Validators.Add(result =>
        {
            var hostGiven = result.GetResult(host) is { Implicit: false };
            var portGiven = result.GetResult(port) is { Implicit: false };
            if (hostGiven != portGiven)
            {
                result.AddError("--host and --port go together: both name a running worker, neither starts a local one.");
            }
        });

        command.SetHandler(async (parse, ct) =>
        {
            var external = parse.GetValue(host) is { } h ? (Host: h, Port: parse.GetValue(port)!.Value) : ((string Host, int Port)?)null;
            var databases = await CoordinatorDatabasesAsync(ctx, parse, external is not null, ct);
            if (databases is null)
            {
                return ExitCodes.Usage;
            }

            var clock = Stopwatch.StartNew();
            if (external is { } worker)
            {
                foreach (var cs in databases)
                {
                    var added = await CitusWorkers.AddAsync(cs, worker.Host, worker.Port, ct);
                    Ui.Info($"{worker.Host}:{worker.Port} {(added ? "registered" : "was already registered")} in {new NpgsqlConnectionStringBuilder(cs).Database}");
                }
            }
            else
            {
                var node = await ctx.Citus(parse).AddLocalWorkerAsync(ct);
                Ui.Success(string.Create(CultureInfo.InvariantCulture,
                    $"{node.Name} running on {LocalCitusCluster.LoopbackHost}:{node.Cluster.Port} ({node.Cluster.ServerRoot}), registered in {databases.Count} Citus database(s) ({clock.Elapsed.TotalSeconds:0.0} s)"));
            }

            if (parse.GetValue(noRebalance))
            {
                Ui.Info("no rebalance (--no-rebalance): the new worker gets new shards only; SELECT citus_rebalance_start(); moves existing ones.");
                return ExitCodes.Success;
            }

            foreach (var cs in databases)
            {
                var code = await RebalanceAsync(cs, ct);
                if (code != ExitCodes.Success)
                {
                    return code;
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The coordinator databases to work on, or null (after saying why) when there is no coordinator to add to.</summary>
    private static async Task<IReadOnlyList<string>?> CoordinatorDatabasesAsync(CliContext ctx, ParseResult parse, bool external, CancellationToken ct)
    {
        if (ctx.HasExplicitDatabase(parse))
        {
            if (!external)
            {
                Ui.Error("--database names a coordinator elsewhere: give --host and --port of a running worker to register (only the built-in cluster starts workers itself).");
                return null;
            }

            return [await ctx.ResolveConnectionStringAsync(parse, ct)];
        }

        if (!ctx.IsCitus(parse))
        {
            Ui.Error($"The built-in database in {ctx.LocalCluster(parse).Root} has no workers: start it as a Citus cluster with `todoscale db start --workers N` first.");
            return null;
        }

        var citus = ctx.Citus(parse);
        await citus.StartAsync(0, ct: ct);
        return (await citus.CitusDatabasesAsync(ct)).Select(db => citus.ConnectionString(db)).ToList();
    }

    private static async Task<int> RebalanceAsync(string cs, CancellationToken ct)
    {
        var database = new NpgsqlConnectionStringBuilder(cs).Database;
        var clock = Stopwatch.StartNew();
        var line = new ProgressLine();
        RebalanceProgress? result;
        try
        {
            result = await CitusRebalance.RunAsync(cs, new InlineProgress<RebalanceProgress>(p => line.Show(
                FormattableString.Invariant($"rebalancing {database}: {p.MovesDone} of {p.MovesTotal} moves done ({p.State})") +
                (p.BytesToCopy > 0 ? FormattableString.Invariant($", copying {p.BytesCopied / 1048576.0:0.0} of {p.BytesToCopy / 1048576.0:0.0} MB") : "") +
                FormattableString.Invariant($", {clock.Elapsed.TotalSeconds:0} s"))), ct: ct);
        }
        catch (RebalanceBusyException e)
        {
            line.End();
            Ui.Error(e.Message);
            return ExitCodes.Busy;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            line.End();
            Ui.Warn("stopped watching; the rebalance goes on in the background: SELECT * FROM citus_rebalance_status(); (citus_rebalance_stop() stops it)");
            return ExitCodes.Interrupted;
        }

        line.End();
        if (result is null)
        {
            Ui.Info($"{database}: shards are already even, nothing to move");
            return ExitCodes.Success;
        }

        if (result.State != "finished")
        {
            Ui.Error($"rebalance job {result.JobId} of {database} {result.State}: {result.Error ?? "see SELECT * FROM citus_rebalance_status();"}");
            return ExitCodes.DatabaseError;
        }

        Ui.Success(string.Create(CultureInfo.InvariantCulture, $"{database}: {result.MovesDone} shard group move(s) in {clock.Elapsed.TotalSeconds:0.0} s (job {result.JobId})"));
        return ExitCodes.Success;
    }

    /// <summary>Reports on the caller's thread as it happens (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>One line rewritten in place on a terminal; elsewhere (CI, pipes) a line whenever it changes.</summary>
    private sealed class ProgressLine
    {
        private string _last = "";

        public void Show(string text)
        {
            if (text.Split(", ")[0] == _last.Split(", ")[0] && !CliContext.Interactive)
            {
                return;
            }

            if (CliContext.Interactive)
            {
                Console.Write($"\r{text.PadRight(Math.Max(_last.Length, text.Length))}");
            }
            else
            {
                Console.WriteLine(text);
            }

            _last = text;
        }

        public void End()
        {
            if (CliContext.Interactive && _last.Length > 0)
            {
                Console.WriteLine();
            }
        }
    }
}
