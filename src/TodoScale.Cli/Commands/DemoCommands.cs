using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class DemoCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("demo", "Run the scaling guide end to end on the built-in database (issue: application).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'demo' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
