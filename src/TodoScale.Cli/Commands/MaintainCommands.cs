using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class MaintainCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("maintain", "Phase 3: archival, partitions, statistics and health checks (issue: maintenance).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'maintain' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
