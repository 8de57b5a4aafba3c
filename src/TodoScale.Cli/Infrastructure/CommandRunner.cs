using System.CommandLine;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Infrastructure;

/// <summary>Runs a command body and turns known failures into one clear line on stderr and a meaningful exit code.</summary>
public static class CommandRunner
{
    public static void SetHandler(this Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Ui.Warn("interrupted");
                return ExitCodes.Interrupted;
            }
            catch (PostgresNotInstalledException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.PostgresMissing;
            }
            catch (CitusNotAvailableException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.PostgresMissing;
            }
            catch (SchemaMigrationException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.DatabaseError;
            }
            catch (PostgresException e)
            {
                Ui.Error($"{e.SqlState}: {e.MessageText}" + (e.Detail is { Length: > 0 } d ? $" ({d})" : ""));
                return ExitCodes.DatabaseError;
            }
            catch (NpgsqlException e)
            {
                Ui.Error($"cannot reach the database: {e.Message}");
                return ExitCodes.DatabaseError;
            }
            catch (LocalClusterException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.DatabaseError;
            }
            catch (ArgumentException e)
            {
                // These messages quote what the user typed ("unknown scenario 'x'"): an ESC in it must not reach the terminal.
                Ui.Error(OptionRules.Printable(e.Message));
                return ExitCodes.Usage;
            }
        });
}
