using System.CommandLine;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

// Placeholder: the command group is registered so that its issue only replaces this file.
public static class UsersCommands
{
    public static Command Create(CliContext ctx)
    {
        _ = ctx;
        var command = new Command("users", "Manage application users and their API tokens (issue: application).");
        command.SetHandler((_, _) =>
        {
            Ui.Error("'users' is not available yet.");
            return Task.FromResult(ExitCodes.Usage);
        });
        return command;
    }
}
