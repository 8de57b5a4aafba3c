namespace TodoScale.Database.Maintenance;

/// <summary>The two scheduled jobs (run_daily_maintenance, run_weekly_maintenance).</summary>
public enum MaintenanceJob
{
    Daily,
    Weekly,
}

/// <summary>One step of a run, as run_daily_maintenance()/run_weekly_maintenance() return it.</summary>
/// <param name="Status">OK, WARNING, FAILED or SKIPPED.</param>
public sealed record MaintenanceStep(string Step, string Status, long RowsAffected, decimal DurationMs, string? Detail)
{
    public const string Ok = "OK";
    public const string Warning = "WARNING";
    public const string Failed = "FAILED";
    public const string Skipped = "SKIPPED";
}

/// <summary>A finished run: its id in maintenance_history and its steps.</summary>
public sealed record MaintenanceRun(MaintenanceJob Job, long? RunId, IReadOnlyList<MaintenanceStep> Steps)
{
    /// <summary>Another run held the maintenance lock, so this one did nothing.</summary>
    public bool Skipped => Steps.Count == 1 && Steps[0] is { Step: "lock", Status: MaintenanceStep.Skipped };

    public bool Failed => Steps.Any(s => s.Status == MaintenanceStep.Failed);
}

/// <summary>One row of check_partition_health(): status OK, WARNING or CRITICAL.</summary>
public sealed record HealthCheck(string Name, string Status, string Detail)
{
    public const string Ok = "OK";
    public const string Warning = "WARNING";
    public const string Critical = "CRITICAL";
}

/// <summary>One row of get_partition_statistics().</summary>
public sealed record PartitionStatistics(
    string Partition, string Parent, long RowEstimate, long DeadRows, decimal SizeMb,
    DateTimeOffset? LastVacuum, DateTimeOffset? LastAnalyze);

/// <summary>One row of get_index_usage_stats().</summary>
public sealed record IndexUsage(string Index, string Table, long Scans, decimal SizeMb, long TuplesRead);
