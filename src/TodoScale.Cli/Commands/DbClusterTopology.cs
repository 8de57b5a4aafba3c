using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;

namespace TodoScale.Cli.Commands;

/// <summary>
/// The built-in Citus cluster behind `db start --workers N` and the Citus side of `db stop|status|url`: the coordinator
/// is the built-in database's own folder (so every other command keeps using it), worker i lives in FOLDER-worker-i.
/// Once a folder has workers (its citus.json), every command that starts the built-in database starts them all.
/// </summary>
public static class DbClusterTopology
{
    public const int MaxWorkers = 16;

    public static Option<int?> WorkersOption() => new Option<int?>("--workers")
    {
        Description = "Start a Citus cluster instead of a single server: the coordinator (the built-in database, whose URL db url prints) " +
                      $"and N workers on 127.0.0.1, each in its own folder (FOLDER-worker-1 ...), registered with the coordinator (1 to {MaxWorkers}). " +
                      "Needs Citus installed for this PostgreSQL (exit 4 otherwise). Cannot be combined with --replicas. " +
                      "Once started with workers, db start/stop/status cover every node.",
    }.Between(1, MaxWorkers);

    /// <summary>
    /// --workers and --replicas build different clusters in the same folder (shards over workers, or copies of one
    /// server): refused while parsing, exit 2. Looked up by name, so it holds whichever of the two options is added first.
    /// </summary>
    public static void RefuseWithReplicas(Command start, Option<int?> workers) => start.Validators.Add(result =>
    {
        static bool Given(CommandResult r, string name) =>
            r.Children.OfType<OptionResult>().Any(o => o.Option.Name == name && !o.Implicit && o.Tokens.Count > 0);
        if (Given(result, workers.Name) && Given(result, "--replicas"))
        {
            result.AddError("--workers and --replicas cannot be combined: a built-in cluster is either a Citus coordinator with workers or a primary with read replicas.");
        }
    });

    /// <summary>The built-in folder as a Citus cluster, with the same folder rules as the single server.</summary>
    public static LocalCitusCluster Citus(this CliContext ctx, ParseResult parse)
    {
        var plain = ctx.LocalCluster(parse);
        return new LocalCitusCluster(plain.Root, new LocalClusterOptions
        {
            // As CliContext.LocalCluster: only the default folder may be moved where the server's user can reach it.
            RelocateWhenUnreachable = plain.Root == Path.GetFullPath(LocalCluster.DefaultRoot),
            Notice = message => Console.Error.WriteLine(message),
        });
    }

    /// <summary>True when the built-in folder was started with workers.</summary>
    public static bool IsCitus(this CliContext ctx, ParseResult parse) => LocalCitusCluster.Exists(ctx.LocalCluster(parse).Root);

    public static async Task<int> StartAsync(CliContext ctx, ParseResult parse, int? workers, CancellationToken ct)
    {
        var citus = ctx.Citus(parse);
        var clock = Stopwatch.StartNew();
        await citus.StartAsync(workers ?? 0, ct: ct);
        var nodes = citus.Nodes;
        Ui.Success(string.Create(CultureInfo.InvariantCulture,
            $"Citus coordinator and {nodes.Count - 1} worker(s) running ({clock.Elapsed.TotalSeconds:0.0} s); database {LocalCluster.DefaultDatabase} has the workers registered (password file {citus.Coordinator.PasswordFile})"));
        await ShowNodesAsync(citus, ct);
        Console.WriteLine(citus.Url());
        return ExitCodes.Success;
    }

    public static async Task<int> StopAsync(CliContext ctx, ParseResult parse, CancellationToken ct)
    {
        var citus = ctx.Citus(parse);
        await citus.StopAsync(ct);
        foreach (var node in citus.Nodes)
        {
            Ui.Info($"{node.Name} ({node.Cluster.ServerRoot}) is stopped.");
        }

        return ExitCodes.Success;
    }

    /// <summary>The nodes table of db status; the coordinator's connection string when it runs (then the schema part follows), else null.</summary>
    public static async Task<string?> ShowStatusAsync(CliContext ctx, ParseResult parse, CancellationToken ct)
    {
        var citus = ctx.Citus(parse);
        var state = await citus.GetStateAsync(ct);
        Ui.Info($"built-in Citus cluster ({citus.Root}): coordinator {state.ToString().ToLowerInvariant()}" +
                (state == LocalClusterState.Running ? $" on {citus.Url()}" : "") + $", {citus.LocalWorkerCount} local worker(s)");
        await ShowNodesAsync(citus, ct);
        return state == LocalClusterState.Running ? citus.ConnectionString() : null;
    }

    /// <summary>db url of a Citus folder: starts every node (idempotent), prints the coordinator's URL.</summary>
    public static async Task<int> UrlAsync(CliContext ctx, ParseResult parse, CancellationToken ct)
    {
        var citus = ctx.Citus(parse);
        await citus.StartAsync(0, ct: ct);
        Console.WriteLine(citus.Url());
        return ExitCodes.Success;
    }

    public static async Task ShowNodesAsync(LocalCitusCluster citus, CancellationToken ct, string database = LocalCluster.DefaultDatabase)
    {
        var nodes = await citus.GetStatusAsync(database, ct);
        Ui.Table(["node", "role", "address", "state", "registered", "shards", "folder"], nodes.Select(n => (IReadOnlyList<string>)
        [
            n.Name, n.Role.ToString().ToLowerInvariant(), $"{n.Host}:{n.Port}", n.State,
            n.Registered is { } r ? (r ? "yes" : "no") : "?",
            n.Shards?.ToString(CultureInfo.InvariantCulture) ?? "?",
            n.Folder ?? "",
        ]));
    }
}
