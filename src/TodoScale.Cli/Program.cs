using System.CommandLine;
using Spectre.Console;
using TodoScale.Cli.Commands;
using TodoScale.Cli.Infrastructure;

// Redirected output (CI logs, pipes, cron mail) is read later by people: do not wrap it at 80 columns.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 200;
}

var ctx = new CliContext();
var root = new RootCommand("todoscale: scale a todo application's PostgreSQL database from one todos table to a partitioned layout.");
root.Options.Add(ctx.Database);
root.Options.Add(ctx.DataDir);
root.Subcommands.Add(DemoCommands.Create(ctx));
root.Subcommands.Add(DbCommands.Create(ctx));
root.Subcommands.Add(MigrateCommands.Create(ctx));
root.Subcommands.Add(MaintainCommands.Create(ctx));
root.Subcommands.Add(UsersCommands.Create(ctx));
root.Subcommands.Add(ServeCommands.Create(ctx));
root.Subcommands.Add(BenchCommands.Create(ctx));

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // System.CommandLine answers parse errors with exit 1, which our scripts read as "a check failed".
    foreach (var error in parse.Errors)
    {
        Ui.Error(error.Message);
    }

    Console.Error.WriteLine("Run with --help for usage.");
    return ExitCodes.Usage;
}

return await parse.InvokeAsync();
