using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Maintenance;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale maintain daily|weekly|health|stats</summary>
public static class MaintainCommands
{
    public static Command Create(CliContext ctx)
    {
        var maintain = new Command("maintain",
            "Phase 3 maintenance: archival of done todos, partitions ahead of time, retention, statistics and health checks.");

        var daily = new Command("daily",
            "Run the daily job now: archive done todos older than archive_after_days, create partitions ahead (moving rows out of DEFAULT), ANALYZE and VACUUM what changed. " +
            "Exit 1 when a step failed, 5 when another maintenance run holds the lock.");
        daily.SetHandler((parse, ct) => RunJobAsync(ctx, parse, MaintenanceJob.Daily, ct));

        var weekly = new Command("weekly",
            "Run the weekly job now: health check, retention of the AI interaction log and maintenance logs (see maintenance_settings), statistics of the partitioned tables. " +
            "Exit 1 when a step failed (a CRITICAL health check counts), 5 when another maintenance run holds the lock.");
        weekly.SetHandler((parse, ct) => RunJobAsync(ctx, parse, MaintenanceJob.Weekly, ct));

        var health = new Command("health",
            "Check partitions: DEFAULT rows, partitions ahead, hash skew, archival backlog, missing indexes, dead tuples, last daily run. Exit 1 on any CRITICAL.");
        health.SetHandler(async (parse, ct) =>
        {
            var runner = new MaintenanceRunner(await ctx.ResolveConnectionStringAsync(parse, ct));
            var checks = await runner.CheckHealthAsync(ct);
            Ui.Table(["check", "status", "detail"],
                checks.Select(c => (IReadOnlyList<string>)[c.Name, c.Status, c.Detail]),
                row => StatusColor(row[1]));
            var critical = checks.Count(c => c.Status == HealthCheck.Critical);
            var warnings = checks.Count(c => c.Status == HealthCheck.Warning);
            if (critical > 0)
            {
                Ui.Error($"{critical} CRITICAL check(s), {warnings} warning(s)");
                return ExitCodes.CheckFailed;
            }

            Ui.Success(warnings == 0 ? "all checks OK" : $"no CRITICAL check; {warnings} warning(s)");
            return ExitCodes.Success;
        });

        var stats = new Command("stats", "Show partition statistics (rows, dead rows, size, last vacuum/analyze) and index usage.");
        stats.SetHandler(async (parse, ct) =>
        {
            var runner = new MaintenanceRunner(await ctx.ResolveConnectionStringAsync(parse, ct));
            var partitions = await runner.GetPartitionStatisticsAsync(ct);
            Ui.Table(["partition", "parent", "rows", "dead rows", "size MB", "last vacuum", "last analyze"],
                partitions.Select(p => (IReadOnlyList<string>)
                [
                    p.Partition, p.Parent, Number(p.RowEstimate), Number(p.DeadRows),
                    p.SizeMb.ToString("0.00", CultureInfo.InvariantCulture), Time(p.LastVacuum), Time(p.LastAnalyze),
                ]));
            var indexes = await runner.GetIndexUsageAsync(ct);
            Ui.Table(["index", "table", "scans", "size MB", "tuples read"],
                indexes.Select(i => (IReadOnlyList<string>)
                [
                    i.Index, i.Table, Number(i.Scans), i.SizeMb.ToString("0.00", CultureInfo.InvariantCulture), Number(i.TuplesRead),
                ]));
            return ExitCodes.Success;
        });

        foreach (var c in new[] { daily, weekly, health, stats })
        {
            maintain.Subcommands.Add(c);
        }

        return maintain;
    }

    private static async Task<int> RunJobAsync(CliContext ctx, ParseResult parse, MaintenanceJob job, CancellationToken ct)
    {
        var runner = new MaintenanceRunner(await ctx.ResolveConnectionStringAsync(parse, ct));
        var run = await runner.RunAsync(job, ct);
        Ui.Table(["step", "status", "rows", "ms", "detail"],
            run.Steps.Select(s => (IReadOnlyList<string>)
            [
                s.Step, s.Status, Number(s.RowsAffected), s.DurationMs.ToString("0.0", CultureInfo.InvariantCulture), s.Detail ?? "",
            ]),
            row => StatusColor(row[1]));

        var name = job.ToString().ToLowerInvariant();
        if (run.Skipped)
        {
            Ui.Error($"{name} maintenance did not run: {run.Steps[0].Detail}");
            return ExitCodes.Busy;
        }

        if (run.Failed)
        {
            var failed = run.Steps.Where(s => s.Status == MaintenanceStep.Failed).Select(s => s.Step);
            Ui.Error($"{name} maintenance run {run.RunId} failed in: {string.Join(", ", failed)} (see maintenance_job_log)");
            return ExitCodes.CheckFailed;
        }

        Ui.Success($"{name} maintenance run {run.RunId} finished");
        return ExitCodes.Success;
    }

    private static Color? StatusColor(string status) => status switch
    {
        "OK" => Color.Green,
        "WARNING" or "SKIPPED" => Color.Yellow,
        "CRITICAL" or "FAILED" => Color.Red,
        _ => null,
    };

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "never";
}
