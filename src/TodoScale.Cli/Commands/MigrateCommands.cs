using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class MigrateCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("migrate", "Phase 2: move the legacy todos table into the partitioned layout (issue: migration).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'migrate' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
