namespace TodoScale.Database.Maintenance;

/// <summary>The maintenance jobs: the two scheduled ones and the CLUSTER pass the weekly job ends with.</summary>
public enum MaintenanceJob
{
    /// <summary>run_daily_maintenance(), then VACUUM of what archival touched.</summary>
    Daily,

    /// <summary>run_weekly_maintenance(), then <see cref="Cluster"/>.</summary>
    Weekly,

    /// <summary>CALL cluster_partitions() (006), then VACUUM of the partitions it rewrote.</summary>
    Cluster,
}

/// <summary>
/// Arguments of cluster_partitions(); null takes the value from maintenance_settings
/// (cluster_min_correlation, cluster_lock_timeout_ms).
/// </summary>
/// <param name="MinCorrelation">A partition whose user_id correlation is below this (0..1) is clustered.</param>
/// <param name="LockTimeoutMs">How long one CLUSTER may wait for its partition's lock before that partition is skipped.</param>
public sealed record ClusterOptions(decimal? MinCorrelation = null, int? LockTimeoutMs = null);

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
    /// <summary>The cluster run a weekly run ends with (its own maintenance_history row); null otherwise.</summary>
    public MaintenanceRun? Cluster { get; init; }

    /// <summary>The steps of this run followed by those of <see cref="Cluster"/>, named "cluster &lt;step&gt;".</summary>
    public IEnumerable<MaintenanceStep> AllSteps =>
        Steps.Concat(Cluster?.Steps.Select(s => s with { Step = "cluster " + s.Step }) ?? []);

    /// <summary>Another run held the maintenance lock, so this one did nothing.</summary>
    public bool Skipped => Steps.Count == 1 && Steps[0] is { Step: "lock", Status: MaintenanceStep.Skipped };

    public bool Failed => AllSteps.Any(s => s.Status == MaintenanceStep.Failed);
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
