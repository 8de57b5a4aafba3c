using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Migration;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale migrate repair|rollback: putting the copies right before cutover, and going back after it.</summary>
public static partial class MigrateCommands
{
    private static Command Repair(CliContext ctx)
    {
        var repair = new Command("repair",
            "Before cutover: give every id that `migrate validate` names (ids_that_differ: in both new tables, missing, extra, " +
            "differing, misplaced) exactly one copy of its current legacy row, where the placement rule puts it (migration_repair()). " +
            "One short transaction; the legacy rows are the source of truth. Exit 1 when validation still fails afterwards.");
        repair.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var migration = new LegacyMigration(cs);
            IReadOnlyList<RepairedId> repaired;
            try
            {
                repaired = await migration.RepairAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.ObjectNotInPrerequisiteState)
            {
                Ui.Error(e.MessageText + (e.Hint is { Length: > 0 } h ? $" ({h})" : ""));
                return ExitCodes.CheckFailed;
            }

            if (repaired.Count > 0)
            {
                Ui.Table(["id", "problem", "action"], repaired.Select(r => (IReadOnlyList<string>)[r.Id.ToString(), r.Problem, r.Action]));
            }

            var status = await migration.StatusAsync(ct);
            if (status.State != "migrated")
            {
                Ui.Success($"repaired {repaired.Count} id(s); the backfill is still running (state {status.State}), validate once it completes");
                return ExitCodes.Success;
            }

            var failed = (await migration.ValidateAsync(ct)).Where(c => !c.Passed).ToList();
            if (failed.Count > 0)
            {
                Ui.Error($"repaired {repaired.Count} id(s), but {failed.Count} check(s) still fail: " + string.Join("; ", failed.Select(c => $"{c.CheckName} ({c.Actual})")));
                return ExitCodes.CheckFailed;
            }

            Ui.Success($"repaired {repaired.Count} id(s); every validation check passes");
            return ExitCodes.Success;
        });
        return repair;
    }

    private static Command Rollback(CliContext ctx)
    {
        var drop = new Option<bool>("--drop-new-tables") { Description = "Also drop todos_active and todos_archived, in the same transaction." };
        var yes = new Option<bool>("--yes")
        {
            Description = "After cutover: accept that application writes to todos_active/todos_archived wait for the whole rollback " +
                          $"(measured: about {RollbackSecondsPerMillionRows:0.#} s per million rows on 2 cores) without being asked.",
        };
        var rollback = new Command("rollback",
            "In one transaction, make the legacy todos table hold exactly todos_active ∪ todos_archived as they are now " +
            "(including writes made after cutover), and stop mirroring. Before cutover it only stops mirroring and empties the copies. " +
            "After cutover it asks first (on a terminal) or needs --yes, because writes to the new tables wait until it commits.")
        {
            drop, yes,
        };
        rollback.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var migration = new LegacyMigration(cs);
            var status = await migration.StatusAsync(ct);
            if (status.State == "cut_over")
            {
                var rows = await migration.NewTableRowEstimateAsync(ct);
                var pause = rows / 1_000_000.0 * RollbackSecondsPerMillionRows;
                var warning = $"rollback locks todos_active and todos_archived against writes for its whole transaction: about {Math.Max(pause, 0.1):0.#} s " +
                              $"for their ~{rows:N0} rows (measured {RollbackSecondsPerMillionRows:0.#} s per million rows on 2 cores); application writes wait that long";
                if (!parse.GetValue(yes))
                {
                    if (!CliContext.Interactive || Console.IsInputRedirected)
                    {
                        Ui.Error(warning + ". Run it when that pause is acceptable, with --yes.");
                        return ExitCodes.Usage;
                    }

                    if (!await AnsiConsole.ConfirmAsync(Markup.Escape(warning + ". Roll back now?"), defaultValue: false, ct))
                    {
                        Ui.Info("not rolled back");
                        return ExitCodes.Success;
                    }
                }
                else
                {
                    Ui.Info(warning);
                }
            }

            IReadOnlyList<RollbackStep> steps;
            try
            {
                steps = await migration.RollbackAsync(parse.GetValue(drop), ct);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.ObjectNotInPrerequisiteState or PostgresErrorCodes.ForeignKeyViolation)
            {
                Ui.Error(e.MessageText + (e.Hint is { Length: > 0 } h ? $" ({h})" : ""));
                return ExitCodes.CheckFailed;
            }

            Ui.Table(["step", "rows"], steps.Select(s => (IReadOnlyList<string>)[s.Step, s.AffectedRows.ToString("N0", Inv)]));
            Ui.Success("rolled back: the application can use the legacy todos table again");
            return ExitCodes.Success;
        });
        return rollback;
    }

    /// <summary>
    /// The measured pause of a rollback after cutover (one transaction that holds todos_active and todos_archived in
    /// SHARE mode): `todoscale demo --rows 1000000`, then `migrate rollback` on this 2-core machine (README, Migrating).
    /// </summary>
    internal const double RollbackSecondsPerMillionRows = 17;
}
