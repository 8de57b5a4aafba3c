using TodoScale.Database.Maintenance;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

/// <summary>cluster_partitions() (006) through MaintenanceRunner: each user's rows end up together on disk, safely.</summary>
public sealed class ClusterTests(PostgresServer server)
{
    // How many times, walking each partition in physical (ctid) order, the user changes more often than
    // there are users: 0 exactly when every user's rows are contiguous in their partition. A partition of
    // one page is left out: reading it is one page whatever its order, so cluster_partitions() skips it.
    private const string ScatteredUsers = """
        SELECT coalesce(sum(runs - users), 0)::bigint FROM (
            SELECT tableoid, count(*) FILTER (WHERE prev IS DISTINCT FROM user_id) AS runs, count(DISTINCT user_id) AS users
            FROM (SELECT tableoid, user_id, lag(user_id) OVER (PARTITION BY tableoid ORDER BY ctid) AS prev FROM {0}) walk
            GROUP BY tableoid) per_partition
        WHERE pg_relation_size(tableoid::regclass) > current_setting('block_size')::bigint
        """;

    private static Task<long> Scattered(NpgsqlConnection conn, string table) =>
        ScalarAsync<long>(conn, string.Format(System.Globalization.CultureInfo.InvariantCulture, ScatteredUsers, table));

    private static Task<string> ContentHash(NpgsqlConnection conn, string table) =>
        ScalarAsync<string>(conn, $"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t");

    private static Task<long> Filenode(NpgsqlConnection conn, string partition) =>
        ScalarAsync<long>(conn, "SELECT relfilenode::bigint FROM pg_class WHERE oid = $1::regclass", partition);

    /// <summary>The archive partitions the seed wrote: the current (open) month and the closed one three months before it.</summary>
    private sealed record SeededMonths(string Open, string Closed);

    /// <summary>
    /// Users whose todos were written interleaved (one todo of each user, then the next round), as an
    /// application writes them: every heap page holds rows of many users. Plus the same in a closed
    /// archive month (three months ago) and in the current, still open, month. Both months come from one
    /// reading of the database's clock: read once per statement, a seed on the last second of a month would
    /// create one month's partition and fill the next. (cluster_partitions() reads the clock itself; a month
    /// turning during the test still leaves the open month open, since it closes only 30 days after its end.)
    /// </summary>
    private static async Task<SeededMonths> SeedInterleavedAsync(NpgsqlConnection conn, int users = 200, int rounds = 15)
    {
        var open = await ScalarAsync<DateTime>(conn, "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')");
        var closed = open.AddMonths(-3);
        await ExecAsync(conn, "INSERT INTO users (email) SELECT 'c' || g || '-' || gen_random_uuid() || '@example.com' FROM generate_series(1, $1) g", users);
        await ExecAsync(conn, """
            INSERT INTO todos_active (user_id, title, description, status, priority, created_at)
            SELECT u.id, 'todo ' || g, repeat('x', 200), CASE WHEN g % 4 = 0 THEN 'in_progress' ELSE 'todo' END, g % 5, now() - make_interval(mins => g)
            FROM generate_series(1, $1) g CROSS JOIN users u ORDER BY g, u.id
            """, rounds);
        await ExecAsync(conn, "SELECT todoscale_create_month_partition('todos_archived', $1::date)", closed);
        foreach (var (month, step) in new[] { (closed, "make_interval(hours => g)"), (open, "make_interval(secs => g)") })
        {
            await ExecAsync(conn, $"""
                INSERT INTO todos_archived (id, user_id, title, description, status, priority, completed_at, created_at, updated_at)
                SELECT gen_random_uuid(), u.id, 'archived ' || g, repeat('y', 200), 'done', g % 5,
                       ($2::timestamp AT TIME ZONE 'UTC') + {step}, now() - interval '1 year', now() - interval '1 year'
                FROM generate_series(1, $1) g CROSS JOIN users u ORDER BY g, u.id
                """, rounds, month);
        }

        await ExecAsync(conn, "ANALYZE todos_active, todos_archived");
        return new SeededMonths($"todos_archived_{open:yyyy_MM}", $"todos_archived_{closed:yyyy_MM}");
    }

    // The busiest todos_active partition: certainly more than one page, so certainly clustered.
    private static Task<string> Largest(NpgsqlConnection conn) =>
        ScalarAsync<string>(conn, "SELECT tableoid::regclass::text FROM todos_active GROUP BY tableoid ORDER BY count(*) DESC, 1 LIMIT 1");

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task clustering_groups_each_users_rows_together_in_every_partition_and_keeps_every_row()
    {
        var cs = await server.CreateMigratedDatabaseAsync("cluster");
        await using var conn = await server.OpenAsync(cs);
        var closed = (await SeedInterleavedAsync(conn)).Closed;
        var activeHash = await ContentHash(conn, "todos_active");
        var archivedHash = await ContentHash(conn, "todos_archived");
        Assert.True(await Scattered(conn, "todos_active") > 0, "the seed must interleave users");
        Assert.True(await Scattered(conn, closed) > 0, "the seed must interleave users");
        // 009's triggers copied each user's newest archived rows into todos_archived_recent, as interleaved as the months.
        Assert.True(await Scattered(conn, "todos_archived_recent") > 0, "the seed must interleave users");
        var recentHash = await ContentHash(conn, "todos_archived_recent");

        var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        Assert.Equal(0L, await Scattered(conn, "todos_active"));
        Assert.Equal(0L, await Scattered(conn, closed));
        Assert.Equal(3_000L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active"));
        Assert.Equal(activeHash, await ContentHash(conn, "todos_active"));
        Assert.Equal(6_000L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(archivedHash, await ContentHash(conn, "todos_archived"));
        Assert.Equal(0L, await Scattered(conn, "todos_archived_recent"));
        Assert.Equal(recentHash, await ContentHash(conn, "todos_archived_recent"));
        Assert.True(await ScalarAsync<double>(conn,
            "SELECT min(correlation)::float8 FROM pg_stats WHERE tablename ~ '^todos_active_part_' AND attname = 'user_id'") > 0.99);

        // One history run: a step per partition, each clustered, then the VACUUM of all of them.
        var clustered = run.Steps.Where(s => s.Detail?.StartsWith("clustered USING", StringComparison.Ordinal) == true).Select(s => s.Step).ToList();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"todos_active_part_{i}").Append(closed)
            .Concat(Enumerable.Range(0, 16).Select(i => $"todos_archived_recent_part_{i}")), clustered);
        Assert.Equal(("vacuum", "OK", 33L), (run.Steps[^1].Step, run.Steps[^1].Status, run.Steps[^1].RowsAffected));
        Assert.Equal("cluster OK", await ScalarAsync<string>(conn, "SELECT job || ' ' || status FROM maintenance_history WHERE id = $1", run.RunId!.Value));
        Assert.Equal(34L, await ScalarAsync<long>(conn, "SELECT count(*) FROM maintenance_job_log WHERE history_id = $1", run.RunId!.Value));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'todos_active_part_0'"));
        Assert.Equal(0L, await ScalarAsync<long>(conn,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_second_run_right_after_clusters_nothing()
    {
        var cs = await server.CreateMigratedDatabaseAsync("cluster2");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var runner = new MaintenanceRunner(cs);
        await runner.RunClusterAsync(ct: Ct);
        var filenode = await Filenode(conn, "todos_active_part_0");

        var second = await runner.RunClusterAsync(ct: Ct);

        Assert.False(second.Failed, string.Join("; ", second.Steps));
        Assert.DoesNotContain(second.Steps, s => s.Detail?.StartsWith("clustered", StringComparison.Ordinal) == true);
        Assert.All(second.Steps.SkipLast(1), s => Assert.StartsWith("in order", s.Detail));
        Assert.Equal(("vacuum", "no partition changed: nothing to vacuum"), (second.Steps[^1].Step, second.Steps[^1].Detail));
        Assert.Equal(filenode, await Filenode(conn, "todos_active_part_0"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_partition_locked_by_an_open_transaction_is_skipped_and_reported_while_the_others_are_clustered()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clusterlock");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var busy = await Largest(conn);

        // A long report reading one partition: its ACCESS SHARE lock is held until it ends.
        await using var report = await server.OpenAsync(cs);
        await using var reportTx = await report.BeginTransactionAsync(Ct);
        await ScalarAsync<long>(report, $"SELECT count(*) FROM {busy}");

        // The run returns while the report is still open: the CLUSTER gave up after lock_timeout
        // instead of waiting for the report (and queueing every reader of that partition behind it).
        var run = await new MaintenanceRunner(cs).RunClusterAsync(new ClusterOptions(LockTimeoutMs: 100), Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        var skipped = Assert.Single(run.Steps, s => s.Status == MaintenanceStep.Skipped);
        Assert.Equal(busy, skipped.Step);
        Assert.Contains("lock_timeout 100 ms", skipped.Detail);
        Assert.All(run.Steps.Where(s => s.Step.StartsWith("todos_active_part_", StringComparison.Ordinal) && s.Step != busy),
            s => Assert.Matches("^(clustered|in order: fits in one page)", s.Detail));
        Assert.True(await Scattered(conn, busy) > 0);
        Assert.Equal(0L, await Scattered(conn, $"(SELECT tableoid, user_id, ctid FROM todos_active WHERE tableoid <> '{busy}'::regclass) others"));
        Assert.Contains($"{busy} SKIPPED (another transaction held its lock", await ScalarAsync<string>(conn,
            "SELECT summary FROM maintenance_history WHERE id = $1", run.RunId!.Value));

        await reportTx.RollbackAsync(Ct);
        var retry = await new MaintenanceRunner(cs).RunClusterAsync(new ClusterOptions(LockTimeoutMs: 100), Ct);

        Assert.Equal([busy], retry.Steps.Where(s => s.Detail?.StartsWith("clustered", StringComparison.Ordinal) == true).Select(s => s.Step));
        Assert.Equal(0L, await Scattered(conn, "todos_active"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task writes_during_a_run_are_all_kept()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clusterwrites");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 20);
        var users = await ColumnAsync<Guid>(conn, "SELECT id FROM users ORDER BY id");
        var existing = await ColumnAsync<Guid>(conn, "SELECT id FROM todos_active ORDER BY id");
        var inserted = new List<Guid>();
        var updated = new List<Guid>();

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var app = await server.OpenAsync(cs);
            for (var k = 0; !stop.IsCancellationRequested || k < 20; k++)
            {
                inserted.Add(await ScalarAsync<Guid>(app, "INSERT INTO todos_active (user_id, title) VALUES ($1, $2) RETURNING id",
                    users[k % users.Count], $"written during the run {k}"));
                await ExecAsync(app, "UPDATE todos_active SET title = 'updated during the run', priority = 4 WHERE id = $1", existing[k % existing.Count]);
                updated.Add(existing[k % existing.Count]);
            }
        }, Ct);

        var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);
        await stop.CancelAsync();
        await writer;

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        Assert.Equal(4_000L + inserted.Count, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active"));
        Assert.Equal((long)inserted.Count, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE id = ANY($1)", inserted.ToArray()));
        Assert.Equal((long)updated.Distinct().Count(), await ScalarAsync<long>(conn,
            "SELECT count(*) FROM todos_active WHERE id = ANY($1) AND title = 'updated during the run' AND priority = 4", updated.ToArray()));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_archive_month_is_clustered_only_once_archival_no_longer_writes_into_it_and_the_open_month_never()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clustermonths");
        await using var conn = await server.OpenAsync(cs);
        var (open, closed) = await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var openFilenode = await Filenode(conn, open);
        var defaultFilenode = await Filenode(conn, "todos_archived_default");
        var closedFilenode = await Filenode(conn, closed);

        // Archival still moves todos completed three months ago when they become that old only now.
        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '200' WHERE name = 'archive_after_days'");
        var early = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);

        Assert.DoesNotContain(early.Steps, s => s.Step.StartsWith("todos_archived_20", StringComparison.Ordinal) || s.Step == "todos_archived_default");
        Assert.Equal(closedFilenode, await Filenode(conn, closed));

        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '30' WHERE name = 'archive_after_days'");
        var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);

        Assert.StartsWith("clustered", run.Steps.Single(s => s.Step == closed).Detail);
        Assert.NotEqual(closedFilenode, await Filenode(conn, closed));
        Assert.DoesNotContain(run.Steps, s => s.Step == open || s.Step == "todos_archived_default");
        Assert.Equal(openFilenode, await Filenode(conn, open));
        Assert.Equal(defaultFilenode, await Filenode(conn, "todos_archived_default"));
        Assert.True(await Scattered(conn, open) > 0);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_table_larger_than_cluster_max_mb_is_not_rewritten_and_the_run_says_why()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clustermax");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var busy = await Largest(conn);
        var size = await ScalarAsync<long>(conn, "SELECT pg_total_relation_size($1::regclass)", busy);
        var filenode = await Filenode(conn, busy);
        // Just under the busiest partition: it alone (and any as large) must be left as it is.
        await ExecAsync(conn, "UPDATE maintenance_settings SET value = $1 WHERE name = 'cluster_max_mb'",
            ((size - 1) / 1048576.0).ToString("0.######", System.Globalization.CultureInfo.InvariantCulture));

        var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        var skipped = run.Steps.Single(s => s.Step == busy);
        Assert.Equal(MaintenanceStep.Skipped, skipped.Status);
        Assert.Contains("too large to rewrite within the lock bound", skipped.Detail);
        Assert.Contains("cluster_max_mb", skipped.Detail);
        Assert.Equal(filenode, await Filenode(conn, busy));
        Assert.True(await Scattered(conn, busy) > 0);
        // The smaller ones are still clustered.
        Assert.Contains(run.Steps, s => s.Step != busy && s.Detail?.StartsWith("clustered", StringComparison.Ordinal) == true);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_run_while_another_maintenance_run_holds_the_lock_does_nothing_and_is_recorded_as_skipped()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clusterbusy");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var largest = await Largest(conn);
        var filenode = await Filenode(conn, largest);
        await using var other = await server.OpenAsync(cs);
        await ScalarAsync<bool>(other, "SELECT pg_try_advisory_lock(todoscale_maintenance_lock_key())");

        var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);

        Assert.True(run.Skipped, string.Join("; ", run.Steps));
        Assert.Equal(filenode, await Filenode(conn, largest));
        Assert.Equal("SKIPPED", await ScalarAsync<string>(conn, "SELECT status FROM maintenance_history WHERE id = $1", run.RunId!.Value));

        await ScalarAsync<bool>(other, "SELECT pg_advisory_unlock(todoscale_maintenance_lock_key())");
        var next = await new MaintenanceRunner(cs).RunClusterAsync(ct: Ct);
        Assert.False(next.Skipped);
        Assert.NotEqual(filenode, await Filenode(conn, largest));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_weekly_run_ends_with_a_cluster_run_of_its_own()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clusterweekly");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        var largest = await Largest(conn);

        var run = await new MaintenanceRunner(cs).RunWeeklyAsync(Ct);

        Assert.False(run.Failed, string.Join("; ", run.AllSteps));
        Assert.NotNull(run.Cluster);
        Assert.NotEqual(run.RunId, run.Cluster.RunId);
        Assert.Equal("statistics", run.Steps[^1].Step);
        Assert.Contains(run.AllSteps, s => s.Step == "cluster " + largest && s.Detail!.StartsWith("clustered", StringComparison.Ordinal));
        Assert.Equal(0L, await Scattered(conn, "todos_active"));
        Assert.Equal("cluster", await ScalarAsync<string>(conn, "SELECT job FROM maintenance_history WHERE id = $1", run.Cluster.RunId!.Value));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_threshold_outside_0_to_1_is_refused_before_anything_is_locked()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clusterbad");
        await using var conn = await server.OpenAsync(cs);

        var e = await Assert.ThrowsAsync<PostgresException>(() => new MaintenanceRunner(cs).RunClusterAsync(new ClusterOptions(MinCorrelation: 1.5m), Ct));

        Assert.Equal("22023", e.SqlState);
        Assert.Contains("min_correlation must be between 0 and 1", e.MessageText);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM maintenance_history"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_runs_006_twice_on_a_migrated_database_and_its_call_works_from_psql_but_not_inside_a_transaction()
    {
        var cs = await server.CreateMigratedDatabaseAsync("psql006");
        await using var conn = await server.OpenAsync(cs);
        await SeedInterleavedAsync(conn, users: 200, rounds: 10);
        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '0.8' WHERE name = 'cluster_min_correlation'");

        for (var round = 1; round <= 2; round++)
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("006_cluster_partitions.sql"));
            Assert.True(code == 0, $"psql -f 006 (round {round}) exited {code}: {output}");
            Assert.DoesNotContain("ERROR", output);
        }

        Assert.Equal("0.8", await ScalarAsync<string>(conn, "SELECT value FROM maintenance_settings WHERE name = 'cluster_min_correlation'"));

        var inTransaction = await Psql.RunCommandAsync(server.Binaries, cs, "BEGIN; CALL cluster_partitions(); COMMIT;");
        Assert.NotEqual(0, inTransaction.ExitCode);
        Assert.Contains("invalid transaction termination", inTransaction.Output);

        var call = await Psql.RunCommandAsync(server.Binaries, cs, "CALL cluster_partitions(min_correlation => 0.9, lock_timeout_ms => 2000);");
        Assert.True(call.ExitCode == 0, call.Output);
        Assert.Contains("run_id", call.Output);
        Assert.Contains("VACUUM todos_active_part_", call.Output);
        Assert.Equal(0L, await Scattered(conn, "todos_active"));
    }
}
