using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Maintenance;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale maintain daily|weekly|cluster|health|stats</summary>
public static class MaintainCommands
{
    public static Command Create(CliContext ctx)
    {
        var maintain = new Command("maintain",
            "Phase 3 maintenance: archival of done todos, partitions ahead of time, retention, statistics and health checks.");

        var daily = new Command("daily",
            "Run the daily job now: archive done todos older than archive_after_days, create partitions ahead (moving rows out of DEFAULT), ANALYZE and VACUUM what changed. " +
            "Exit 1 when a step failed, 5 when another maintenance run holds the lock.");
        daily.SetHandler((parse, ct) => RunJobAsync(ctx, parse, "daily", r => r.RunDailyAsync(ct), ct));

        var weekly = new Command("weekly",
            "Run the weekly job now: health check, retention of the AI interaction log and maintenance logs (see maintenance_settings), statistics of the partitioned tables, " +
            "then what 'maintain cluster' does with the thresholds in maintenance_settings. " +
            "Exit 1 when a step failed (a CRITICAL health check counts), 5 when another maintenance run holds the lock.");
        weekly.SetHandler((parse, ct) => RunJobAsync(ctx, parse, "weekly", r => r.RunWeeklyAsync(ct), ct));

        var cluster = Cluster(ctx);

        var health = new Command("health",
            "Check partitions: DEFAULT rows, partitions ahead, hash skew, archival backlog, missing indexes, dead tuples, last daily run; " +
            "and each streaming standby's replay lag (a standby that is gone while its slot keeps WAL is CRITICAL). Exit 1 on any CRITICAL.");
        health.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var runner = new MaintenanceRunner(cs);
            var checks = await runner.CheckHealthAsync(ct);
            Ui.Table(["check", "status", "detail"],
                checks.Select(c => (IReadOnlyList<string>)[c.Name, c.Status, c.Detail]),
                row => StatusColor(row[1]));
            var replication = await ReplicationHealth.PrintAsync(cs, ct);
            var critical = checks.Count(c => c.Status == HealthCheck.Critical) + replication.Critical;
            var warnings = checks.Count(c => c.Status == HealthCheck.Warning) + replication.Warnings;
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

        foreach (var c in new[] { daily, weekly, cluster, health, stats })
        {
            maintain.Subcommands.Add(c);
        }

        return maintain;
    }

    private static Command Cluster(CliContext ctx)
    {
        var minCorrelation = new Option<decimal?>("--min-correlation")
        {
            Description = "CLUSTER a partition whose pg_stats correlation of user_id is below this (0 to 1; default: maintenance_settings cluster_min_correlation, 0.9). " +
                          "1 clusters every partition not already in perfect order.",
        }.Between(0m, 1m);
        var lockTimeout = new Option<int?>("--lock-timeout")
        {
            Description = "Milliseconds one CLUSTER may wait for its partition's lock before that partition is skipped until the next run " +
                          "(default: maintenance_settings cluster_lock_timeout_ms, 2000). Readers of the partition queue behind a waiting CLUSTER, so keep it short.",
        }.Between(1, int.MaxValue, " ms");

        var cluster = new Command("cluster",
            "Keep each user's rows together on disk: CLUSTER, one partition per transaction, every todos_active partition and closed todos_archived month whose order by user " +
            "has decayed, then ANALYZE and VACUUM it (CALL cluster_partitions() of 006). Each partition is locked for its rewrite only; a partition another transaction " +
            "holds longer than --lock-timeout is SKIPPED. Also the last part of 'maintain weekly'. " +
            "Exit 1 when a partition failed, 5 when another maintenance run holds the lock.")
        {
            Options = { minCorrelation, lockTimeout },
        };
        cluster.SetHandler((parse, ct) => RunJobAsync(ctx, parse, "cluster",
            r => r.RunClusterAsync(new ClusterOptions(parse.GetValue(minCorrelation), parse.GetValue(lockTimeout)), ct), ct));
        return cluster;
    }

    private static async Task<int> RunJobAsync(
        CliContext ctx, ParseResult parse, string name, Func<MaintenanceRunner, Task<MaintenanceRun>> start, CancellationToken ct)
    {
        var runner = new MaintenanceRunner(await ctx.ResolveConnectionStringAsync(parse, ct));
        var run = await start(runner);
        Ui.Table(["step", "status", "rows", "ms", "detail"],
            run.AllSteps.Select(s => (IReadOnlyList<string>)
            [
                s.Step, s.Status, Number(s.RowsAffected), s.DurationMs.ToString("0.0", CultureInfo.InvariantCulture), s.Detail ?? "",
            ]),
            row => StatusColor(row[1]));

        if (run.Skipped)
        {
            Ui.Error($"{name} maintenance did not run: {run.Steps[0].Detail}");
            return ExitCodes.Busy;
        }

        var runs = run.Cluster is { RunId: { } clusterId } ? $"run {run.RunId} (cluster run {clusterId})" : $"run {run.RunId}";
        if (run.Failed)
        {
            var failed = run.AllSteps.Where(s => s.Status == MaintenanceStep.Failed).Select(s => s.Step);
            Ui.Error($"{name} maintenance {runs} failed in: {string.Join(", ", failed)} (see maintenance_job_log)");
            return ExitCodes.CheckFailed;
        }

        var skipped = run.AllSteps.Where(s => s.Status == MaintenanceStep.Skipped && s.Detail?.Contains("lock_timeout", StringComparison.Ordinal) == true)
            .Select(s => s.Step).ToList();
        if (skipped.Count > 0)
        {
            Ui.Warn($"not clustered, their lock was held by another transaction: {string.Join(", ", skipped)}; the next run retries");
        }

        Ui.Success($"{name} maintenance {runs} finished");
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
