using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Migration;

namespace TodoScale.Cli.Commands;

/// <summary>
/// todoscale migrate check|run|validate|status|cutover|rollback: phase 2, the live legacy todos table into
/// todos_active/todos_archived. Every step is a function of migrations/scaling/002_migrate_existing_data.sql.
/// </summary>
public static partial class MigrateCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Each batch is one transaction holding a row lock on every row it copies: beyond this it is the single long copy the run exists to avoid.</summary>
    private const int MaxBatchSize = 1_000_000;

    /// <summary>Ten minutes between batches already stretches a million rows at the default batch size over 33 hours; more is a mistake, not a throttle.</summary>
    private const int MaxThrottleMs = 600_000;

    public static Command Create(CliContext ctx)
    {
        var migrate = new Command("migrate",
            "Phase 2: copy the live legacy todos table into todos_active/todos_archived while the application keeps writing, " +
            "validate, cut over, or roll back. Order: check, run, validate, cutover (rollback any time).");

        foreach (var c in new[] { Check(ctx), Run(ctx), Validate(ctx), Repair(ctx), Status(ctx), Cutover(ctx), Rollback(ctx) })
        {
            migrate.Subcommands.Add(c);
        }

        return migrate;
    }

    private static Command Check(CliContext ctx)
    {
        var check = new Command("check", "Preflight: report what in the legacy todos table would not fit the new tables and how each case is handled. Moves nothing. Exit 1 when something blocks the migration.");
        check.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var issues = await new LegacyMigration(cs).PreflightAsync(ct);
            PrintPreflight(issues);
            var blocking = issues.Count(i => i.IsBlocking);
            if (blocking > 0)
            {
                Ui.Error($"{blocking} blocking issue(s): fix them in todos, then run `todoscale migrate check` again");
                return ExitCodes.CheckFailed;
            }

            Ui.Success("nothing blocks the migration; next: todoscale migrate run");
            return ExitCodes.Success;
        });
        return check;
    }

    private static Command Run(CliContext ctx)
    {
        var batchSize = new Option<int?>("--batch-size")
        {
            Description = "Rows per batch, every batch (switches the adaptive sizing off). Without it the batch engine sizes each " +
                          "batch to take --target-ms from the rows/second of the batches before it.",
        }.Between(1, MaxBatchSize);
        var maxBatches = new Option<int?>("--max-batches") { Description = "Stop after this many batches (running again resumes)." }.Between(1, int.MaxValue);
        var throttle = new Option<int?>("--throttle")
        {
            Description = "Milliseconds to pause after every batch (switches the adaptive sizing off; batches of --batch-size, default 5000).",
        }.Between(0, MaxThrottleMs, " ms");
        var targetMs = new Option<int>("--target-ms")
        {
            Description = "How long one adaptive batch should take: how long an application write may wait behind it.",
            DefaultValueFactory = _ => 200,
        }.Between(10, 60_000, " ms");
        var maxBatchSize = new Option<int>("--max-batch-size")
        {
            Description = "Upper bound of the adaptive batch size.",
            DefaultValueFactory = _ => 50_000,
        }.Between(100, MaxBatchSize);
        var walBudget = new Option<int>("--wal-budget-mb")
        {
            Description = "Pause while the server writes more WAL than this many MB/s (0: no budget; 100 MB/s is a 1 Gbit/s replication link).",
            DefaultValueFactory = _ => 100,
        }.Between(0, 100_000, " MB/s");
        var maxLag = new Option<int>("--max-replica-lag")
        {
            Description = "Pause while a standby (pg_stat_replication) replays more than this many seconds behind (0: not watched).",
            DefaultValueFactory = _ => 10,
        }.Between(0, 86_400, " s");
        var probe = new Option<string?>("--probe")
        {
            Description = "An application read statement; the engine pauses while it takes more than 3x its idle time (and 5 ms more).",
        }.Refusing(OptionRules.PlainText(2_000));
        var noSignals = new Option<bool>("--no-signals")
        {
            Description = "Do not pause on health signals (lock waits, vacuum, WAL rate, replica lag, probe).",
        };

        var takeover = new Option<bool>("--takeover")
        {
            Description = "End the sessions that hold the migration lock first (what is left of a killed run: `migrate status` lists them). " +
                          "Their batch in flight rolls back and is redone.",
        };

        var run = new Command("run",
            "Install the mirror trigger (first run) and copy the legacy rows in committed batches, with live progress. " +
            "Ctrl-C stops after the current batch; running again resumes where it stopped. " +
            "Exit 5 when another run holds the migration lock (the message names its session; --takeover ends it).")
        {
            batchSize, maxBatches, throttle, targetMs, maxBatchSize, walBudget, maxLag, probe, noSignals, takeover,
        };
        run.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var options = new MigrationRunOptions
            {
                BatchSize = parse.GetValue(batchSize),
                MaxBatches = parse.GetValue(maxBatches),
                Throttle = parse.GetValue(throttle) is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
                TakeOver = parse.GetValue(takeover),
                Engine = new BatchEngineOptions
                {
                    Target = TimeSpan.FromMilliseconds(parse.GetValue(targetMs)),
                    MaxBatchSize = parse.GetValue(maxBatchSize),
                    WalBudgetMb = parse.GetValue(walBudget) is > 0 and var mb ? mb : null,
                    MaxReplicaLag = parse.GetValue(maxLag) is > 0 and var lag ? TimeSpan.FromSeconds(lag) : null,
                    Probe = parse.GetValue(probe),
                    Signals = !parse.GetValue(noSignals),
                },
            };
            Ui.Info(options.Adaptive
                ? $"batch engine: adaptive, each batch sized to take about {options.Engine.Target.TotalMilliseconds:N0} ms (at most {options.Engine.MaxBatchSize:N0} rows)" +
                  (options.Engine.Signals ? "; pauses on lock waits, vacuum, WAL rate, replica lag" + (options.Engine.Probe is null ? "" : ", probe latency") : "; signals off")
                : $"batch engine: fixed batches of {options.BatchSize ?? 5_000:N0} rows, {options.Throttle?.TotalMilliseconds ?? 0:N0} ms pause after each " +
                  "(--batch-size/--throttle switch the adaptive sizing off)" + (options.Engine.Signals ? "; health signals still pause it" : "; signals off"));

            // Our own Ctrl-C/SIGTERM handling: System.CommandLine 2.0.0 leaves ProcessTerminationTimeout unset, so
            // the runtime would end the process mid-batch. The first signal lets the batch in flight commit and stops;
            // a second one terminates at once (PostgreSQL then rolls that batch back, which is safe too).
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            void OnSignal(PosixSignalContext signal)
            {
                if (!stop.IsCancellationRequested)
                {
                    signal.Cancel = true;
                    Ui.Warn("stopping after the current batch (press Ctrl-C again to abort it; it would be rolled back)");
                    stop.Cancel();
                }
            }

            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

            MigrationRunResult result;
            try
            {
                result = CliContext.Interactive ? await RunWithProgressBarAsync(cs, options, stop.Token) : await RunWithLinesAsync(cs, options, stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Ui.Warn("interrupted before the first batch; nothing was moved by this run");
                return ExitCodes.Interrupted;
            }
            catch (MigrationBlockedException e)
            {
                PrintPreflight(e.Issues);
                Ui.Error($"migration blocked by {e.Issues.Count} preflight issue(s); nothing was moved (see `todoscale migrate check`)");
                return ExitCodes.CheckFailed;
            }
            catch (MigrationBusyException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.Busy;
            }
            catch (InvalidOperationException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.CheckFailed;
            }

            var summary = $"{result.RowsMovedThisRun:N0} rows in {result.BatchesThisRun:N0} batches in {result.Elapsed.TotalSeconds:N1} s " +
                          $"({result.RowsPerSecond:N0} rows/s{(result.Splits > 0 ? $", {result.Splits} batches split after lock timeouts/deadlocks" : "")}" +
                          $"{(result.Retries > 0 ? $", {result.Retries} retries" : "")}" +
                          $"{(result.Paused > TimeSpan.Zero ? $", paused {result.Paused.TotalSeconds:N1} s on health signals" : "")}" +
                          $"{(result.IndexStatements > 0 ? $"; the new tables' indexes, the archive's bookkeeping and statistics, deferred while they filled, done in {result.IndexBuild.TotalSeconds:N1} s" : "")})";
            if (result.IndexesPending)
            {
                Ui.Info($"backfill complete: {summary}; the build of the new tables' deferred indexes was interrupted. " +
                        "Run `todoscale migrate run` again to finish it (cutover waits for it).");
                return ExitCodes.Interrupted;
            }

            if (result.Completed)
            {
                Ui.Success($"backfill complete: {summary}. The mirror trigger keeps the copies current; next: todoscale migrate validate");
                return ExitCodes.Success;
            }

            Ui.Info($"stopped after {summary}; {result.Status.RowsRemaining:N0} rows remain. Run `todoscale migrate run` again to resume.");
            return result.Cancelled ? ExitCodes.Interrupted : ExitCodes.Success;
        });
        return run;
    }

    private static async Task<MigrationRunResult> RunWithProgressBarAsync(string cs, MigrationRunOptions options, CancellationToken ct)
    {
        MigrationRunResult? result = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async progressContext =>
            {
                var task = progressContext.AddTask("starting (preflight, archive partitions, mirror trigger)", maxValue: 1);
                result = await new MigrationRunner(cs).RunAsync(options, new Reporter(p =>
                {
                    task.MaxValue = Math.Max(1, p.RowsTotal);
                    task.Value = p.RowsDone;
                    task.Description = Markup.Escape(Describe(p));
                }), ct);
                task.StopTask();
            });
        return result!;
    }

    private static async Task<MigrationRunResult> RunWithLinesAsync(string cs, MigrationRunOptions options, CancellationToken ct)
    {
        var lastLine = DateTime.MinValue;
        return await new MigrationRunner(cs).RunAsync(options, new Reporter(p =>
        {
            // One line every two seconds is enough for a CI log; thousands of batches would drown it.
            if (p.Completed || DateTime.UtcNow - lastLine >= TimeSpan.FromSeconds(2))
            {
                lastLine = DateTime.UtcNow;
                Console.WriteLine($"{p.Fraction * 100:F1}% {Describe(p)}");
            }
        }), ct);
    }

    private static string Describe(MigrationProgress p) =>
        $"{p.RowsDone:N0}/{p.RowsTotal:N0} rows, {p.RowsPerSecond:N0} rows/s, " +
        (p.BatchRows > 0 && !p.Completed ? $"batch {p.BatchRows:N0} rows/{p.BatchMs:N0} ms, " : "") +
        (p.Completed ? "done" : p.Eta is { } eta ? $"ETA {eta:hh\\:mm\\:ss}" : "ETA unknown") +
        (p.Waiting is { } w ? $"; {w}" : "") + (p.Paused is { } why ? $"; {why}" : "");

    private static Command Validate(CliContext ctx)
    {
        var validate = new Command("validate", "Compare the legacy todos table with todos_active ∪ todos_archived (counts, ids, a checksum over all 13 columns, archive placement, parent references). Exit 1 on any FAIL.");
        validate.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var checks = await new LegacyMigration(cs).ValidateAsync(ct);
            Ui.Table(["check", "expected", "actual", "status"],
                checks.Select(c => (IReadOnlyList<string>)[c.CheckName, c.Expected, c.Actual, c.Status]),
                row => row[3] == "PASS" ? Color.Green : Color.Red);
            var failed = checks.Count(c => !c.Passed);
            if (failed > 0)
            {
                Ui.Error($"{failed} of {checks.Count} checks failed");
                return ExitCodes.CheckFailed;
            }

            Ui.Success($"all {checks.Count} checks pass");
            return ExitCodes.Success;
        });
        return validate;
    }

    private static Command Status(CliContext ctx)
    {
        var status = new Command("status", "Show where the migration stands and its most recent steps (migration_progress).");
        status.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var migration = new LegacyMigration(cs);
            var s = await migration.StatusAsync(ct);
            Ui.Table(["", ""],
            [
                ["state", s.State],
                ["legacy rows", s.LegacyRows?.ToString("N0", Inv) ?? "(no legacy todos table)"],
                ["rows moved", s.RowsMoved.ToString("N0", Inv)],
                ["rows remaining", s.RowsRemaining?.ToString("N0", Inv) ?? "-"],
                ["batches", s.Batches.ToString("N0", Inv)],
                ["last key", s.LastKey?.ToString() ?? "-"],
                ["mirror trigger", s.MirrorTrigger ? "installed" : "not installed"],
                ["archive cutoff", Format(s.ArchiveCutoff)],
                ["started", Format(s.StartedAt)],
                ["last batch", Format(s.LastBatchAt)],
                ["completed", Format(s.CompletedAt)],
                ["cut over", Format(s.CutoverAt)],
                ["rolled back", Format(s.RolledBackAt)],
            ]);
            if (await migration.EngineStatusAsync(ct) is { } e)
            {
                Ui.Table(["batch engine", ""],
                [
                    ["mode", e.Mode],
                    ["batch size now", $"{e.BatchRows.ToString("N0", Inv)} rows"],
                    ["last batch", e.LastRows is { } lr ? $"{lr.ToString("N0", Inv)} rows in {e.LastMs?.ToString("N0", Inv)} ms (target {e.TargetMs} ms)" : "-"],
                    ["rate (smoothed)", e.RowsPerSecond is { } rps ? $"{rps.ToString("N0", Inv)} rows/s" : "-"],
                    ["batches / splits", $"{e.Batches.ToString("N0", Inv)} / {e.Splits.ToString("N0", Inv)}"],
                    ["paused", $"{e.PausedSeconds.ToString("N1", Inv)} s"],
                    ["signal", e.Signal is null ? "none" : $"{e.Signal}: {e.Detail}"],
                    ["updated", Format(e.UpdatedAt)],
                ]);
            }

            var sessions = await migration.SessionsAsync(ct);
            if (sessions.Count > 0)
            {
                Ui.Table(["runner session", "holds lock", "client", "state", "for", "waiting for", "statement"],
                    sessions.Select(x => (IReadOnlyList<string>)
                    [
                        $"pid {x.Pid} ({x.Application})", x.HoldsLock ? "yes" : "no", x.Client, x.State ?? "",
                        x.StatementSeconds is { } sec ? $"{sec.ToString("0.#", Inv)} s" : "", x.WaitingFor ?? "", x.Query ?? "",
                    ]));
                Ui.Info("a session left by a killed run ends by itself once its statement returns; `todoscale migrate run --takeover` ends it now");
            }

            var recent = await migration.RecentProgressAsync(10, ct);
            if (recent.Count > 0)
            {
                Ui.Table(["step", "start_time", "end_time", "rows", "last key", "status", "detail"],
                    recent.Select(p => (IReadOnlyList<string>)
                    [
                        p.Step, Format(p.StartTime), Format(p.EndTime), p.RowsMoved.ToString("N0", Inv),
                        p.LastKey?.ToString() ?? "", p.Status, p.Detail ?? "",
                    ]));
            }

            return ExitCodes.Success;
        });
        return status;
    }

    private static Command Cutover(CliContext ctx)
    {
        var force = new Option<bool>("--force") { Description = "Cut over even when validation fails (the backfill must still be complete)." };
        var cutover = new Command("cutover",
            "Validate, then stop mirroring and make the legacy todos table read-only: from now on the application uses " +
            "todos_active/todos_archived. The legacy table stays for rollback.")
        {
            force,
        };
        cutover.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            try
            {
                await new LegacyMigration(cs).CutoverAsync(parse.GetValue(force), ct);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.CheckViolation or PostgresErrorCodes.ObjectNotInPrerequisiteState)
            {
                Ui.Error(e.Hint is { Length: > 0 } hint ? $"{e.MessageText}. {hint}" : e.MessageText);
                return ExitCodes.CheckFailed;
            }

            Ui.Success("cut over: todos is read-only, the application must now use todos_active/todos_archived (`todoscale migrate rollback` goes back)");
            return ExitCodes.Success;
        });
        return cutover;
    }

    private static void PrintPreflight(IReadOnlyList<PreflightIssue> issues) =>
        Ui.Table(["check", "severity", "rows", "handling"],
            issues.Select(i => (IReadOnlyList<string>)[i.CheckName, i.Severity, i.AffectedRows.ToString("N0", Inv), i.Handling]),
            row => row[1] switch { "blocking" => Color.Red, "info" => Color.Yellow, _ => null });

    private static string Format(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", Inv) ?? "-";

    /// <summary>Runs the callback on the runner's thread, in order (Progress&lt;T&gt; would post reports late and unordered).</summary>
    private sealed class Reporter(Action<MigrationProgress> report) : IProgress<MigrationProgress>
    {
        public void Report(MigrationProgress value) => report(value);
    }
}
