using TodoScale.Database.Distribution;

namespace TodoScale.Database.Tests.Citus;

/// <summary>
/// The maintenance jobs on a distributed database: daily archival moves exactly the eligible rows once (the page
/// walk would size the coordinator's empty shells and archive nothing), partitions ahead are created on the
/// distributed parents, statistics come from the shards (no silent zeros), and clustering is skipped with its reason.
/// </summary>
public sealed class CitusMaintenanceTests(CitusServer citus)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task daily_and_weekly_maintenance_on_citus_archive_the_eligible_rows_exactly_once_and_report_the_shards_real_sizes()
    {
        var cs = await citus.CreateMigratedCitusDatabaseAsync("citusmaint");
        await Sql.ExecAsync(cs, CitusData.SeedSql);
        await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: 4, Online: false));
        var eligible = await Sql.ScalarAsync<Guid[]>(cs,
            "SELECT array_agg(id ORDER BY id) FROM todos_active WHERE status = 'done' AND completed_at < now() - interval '30 days'");
        var total = await Sql.ScalarAsync<long>(cs, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)");
        Assert.True(eligible.Length > 100, $"the seed has only {eligible.Length} rows to archive");

        var daily = await StepsAsync(cs, "SELECT step, status, rows_affected FROM run_daily_maintenance()");

        Assert.Equal(("OK", (long)eligible.Length), daily["archive"]);
        Assert.Equal("OK", daily["partitions"].Status);
        Assert.Equal("OK", daily["analyze"].Status);
        Assert.Equal(eligible, await Sql.ScalarAsync<Guid[]>(cs,
            "SELECT array_agg(id ORDER BY id) FROM todos_archived WHERE id = ANY ($1)", eligible));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM todos_active WHERE id = ANY ($1)", eligible));
        Assert.Equal(total, await Sql.ScalarAsync<long>(cs, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));
        // A second run finds nothing left: each row moved once.
        Assert.Equal(("OK", 0L), (await StepsAsync(cs, "SELECT step, status, rows_affected FROM run_daily_maintenance()"))["archive"]);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(cs,
            "SELECT count(*) FROM (SELECT id FROM todos_archived GROUP BY id HAVING count(*) > 1) d"));
        // Partitions ahead exist on the distributed parent, as distributed tables.
        var nextMonth = await Sql.ScalarAsync<string>(cs, "SELECT 'todos_archived_' || to_char(now() AT TIME ZONE 'UTC' + interval '3 months', 'YYYY_MM')");
        Assert.Equal("distributed", await CitusData.CitusTypeAsync(cs, nextMonth));

        var weekly = await StepsAsync(cs, "SELECT step, status, rows_affected FROM run_weekly_maintenance()");
        Assert.All(weekly, s => Assert.True(s.Value.Status is "OK" or "SKIPPED", $"{s.Key}: {s.Value.Status}"));

        // Real sizes and rows, from the workers: the coordinator's shells hold nothing, so any zero here would be theirs.
        // Row counts are statistics (ANALYZE above, flushed by the workers' sessions): positive and bounded, not exact.
        var active = await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM todos_active");
        var reported = await Sql.ScalarAsync<long>(cs, "SELECT sum(row_estimate)::bigint FROM get_partition_statistics() WHERE parent_table = 'todos_active'");
        Assert.InRange(reported, 1, active + eligible.Length);
        Assert.True(await Sql.ScalarAsync<decimal>(cs, "SELECT sum(size_mb) FROM get_partition_statistics() WHERE parent_table = 'todos_archived'") > 0);
        Assert.True(await Sql.ScalarAsync<decimal>(cs,
            "SELECT size_mb FROM get_index_usage_stats() WHERE index_name = 'idx_todos_active_user_status_priority_p0'") > 0);
        Assert.DoesNotContain(" 0 rows in todos_active", " " + await Sql.ScalarAsync<string>(cs,
            "SELECT detail FROM check_partition_health() WHERE check_name = 'hash_partition_skew'"));

        await Sql.ExecAsync(cs, "CALL cluster_partitions()");
        Assert.Contains("distributed by Citus", await Sql.ScalarAsync<string>(cs, """
            SELECT l.detail FROM maintenance_job_log l JOIN maintenance_history h ON h.id = l.history_id
            WHERE h.job = 'cluster' AND l.status = 'SKIPPED' ORDER BY l.id DESC LIMIT 1
            """));
    }

    private static async Task<Dictionary<string, (string Status, long Rows)>> StepsAsync(string cs, string sql)
    {
        var steps = new Dictionary<string, (string, long)>();
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            steps[r.GetString(0)] = (r.GetString(1), r.GetInt64(2));
        }

        return steps;
    }
}
