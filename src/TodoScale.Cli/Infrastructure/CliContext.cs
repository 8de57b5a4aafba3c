using System.CommandLine;
using Spectre.Console;
using TodoScale.Cli.Commands;
using TodoScale.Database.Cluster;
using TodoScale.Database.Connections;

namespace TodoScale.Cli.Infrastructure;

/// <summary>The global options every command shares, and how a command gets its database.</summary>
public sealed class CliContext
{
    public const string DataDirVariable = "TODOSCALE_DATA_DIR";

    public Option<string?> Database { get; } = new("--database", "-d")
    {
        Description = $"Connection to use (Npgsql 'Host=...;Database=...' or 'postgresql://user@host:port/db'). Default: ${ConnectionStrings.EnvironmentVariable}, else the built-in local PostgreSQL.",
        Recursive = true,
    };

    public Option<string?> DataDir { get; } = new("--data-dir")
    {
        Description = $"Folder of the built-in local PostgreSQL. Default: ${DataDirVariable}, else {TodoScale.Database.Cluster.LocalCluster.DefaultRoot}.",
        Recursive = true,
    };

    /// <summary>Plain lines instead of live widgets when output is redirected (CI, pipes, cron).</summary>
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    public LocalCluster LocalCluster(ParseResult parse)
    {
        var named = parse.GetValue(DataDir) ?? Environment.GetEnvironmentVariable(DataDirVariable);
        var useDefault = string.IsNullOrWhiteSpace(named);
        return new(useDefault ? TodoScale.Database.Cluster.LocalCluster.DefaultRoot : named!, new LocalClusterOptions
        {
            // The README's first command must work from any clone, /root included; a folder the user named is kept
            // where it was named (or refused with a clear message), never moved behind their back.
            RelocateWhenUnreachable = useDefault,
            // stderr: stdout of `db url` is the URL alone, for $(todoscale db url).
            Notice = message => Console.Error.WriteLine(message),
        });
    }

    /// <summary>True when the user named a database; otherwise commands use (and start) the local cluster.</summary>
    public bool HasExplicitDatabase(ParseResult parse) =>
        !string.IsNullOrWhiteSpace(parse.GetValue(Database) ?? Environment.GetEnvironmentVariable(ConnectionStrings.EnvironmentVariable));

    /// <summary>The connection string to work on, starting the built-in cluster when no database was named.</summary>
    public async Task<string> ResolveConnectionStringAsync(ParseResult parse, CancellationToken ct)
    {
        var explicitDb = parse.GetValue(Database) ?? Environment.GetEnvironmentVariable(ConnectionStrings.EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(explicitDb))
        {
            return ConnectionStrings.Normalize(explicitDb);
        }

        var cluster = LocalCluster(parse);
        if (await cluster.GetStateAsync(ct) != LocalClusterState.Running)
        {
            Ui.Info($"Starting the built-in PostgreSQL in {cluster.ServerRoot} ...");
        }

        if (this.IsCitus(parse))
        {
            // A coordinator started alone has no workers to route to: start (or check) every node.
            var citus = this.Citus(parse);
            await citus.StartAsync(0, ct: ct);
            return citus.ConnectionString();
        }

        await cluster.StartAsync(ct: ct);
        return cluster.ConnectionString();
    }
}
