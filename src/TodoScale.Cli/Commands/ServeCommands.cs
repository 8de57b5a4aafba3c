using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class ServeCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("serve", "Run the HTTP API on the database (issue: application).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'serve' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
