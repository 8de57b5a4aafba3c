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

return await root.Parse(args).InvokeAsync();
