using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class BenchCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("bench", "Benchmarks of the layout against the legacy table (issue: benchmarks).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'bench' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
