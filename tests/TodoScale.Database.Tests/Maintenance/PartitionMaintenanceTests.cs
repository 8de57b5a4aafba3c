using TodoScale.Database.Maintenance;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

public sealed class PartitionMaintenanceTests(PostgresServer server)
{
    private static async Task<string> Health(NpgsqlConnection conn, string check) =>
        await ScalarAsync<string>(conn, "SELECT status FROM check_partition_health() WHERE check_name = $1", check);

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_daily_run_creates_the_configured_partitions_ahead_for_both_range_tables()
    {
        var cs = await server.CreateMigratedDatabaseAsync("ahead");
        await using var conn = await server.OpenAsync(cs);
        // The daily run counts the months it creates from its own now(): a month turning during the test would
        // make it create one more, so the test keeps clear of the turn and names every month from this one value.
        var current = await MonthBoundary.CurrentMonthAsync(conn, TimeSpan.FromMinutes(1), Ct);
        string Month(int ahead) => current.AddMonths(ahead).ToString("yyyy_MM", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var parent in new[] { "todos_archived", "ai_todo_interactions" })
        {
            await ExecAsync(conn, "SELECT todoscale_execute_with_lock_retry(format('DROP TABLE %I', $1::text))", parent + "_" + Month(3));
        }

        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '5' WHERE name = 'partition_months_ahead'");
        Assert.Equal("WARNING", await Health(conn, "future_partitions"));

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        Assert.Equal(6L, run.Steps.Single(s => s.Step == "partitions").RowsAffected);
        for (var k = 0; k <= 5; k++)
        {
            Assert.NotNull(await ScalarAsync<string?>(conn, "SELECT to_regclass($1)::text", "todos_archived_" + Month(k)));
            Assert.NotNull(await ScalarAsync<string?>(conn, "SELECT to_regclass($1)::text", "ai_todo_interactions_" + Month(k)));
        }

        Assert.Equal("OK", await Health(conn, "future_partitions"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rows_waiting_in_the_default_partitions_move_into_new_month_partitions_and_health_turns_ok()
    {
        var cs = await server.CreateMigratedDatabaseAsync("defaults");
        await using var conn = await server.OpenAsync(cs);
        var user = await ScalarAsync<Guid>(conn, "INSERT INTO users (email) VALUES ('d@example.com') RETURNING id");
        await ExecAsync(conn, """
            INSERT INTO ai_todo_interactions (user_id, interaction_type, created_at)
            SELECT $1, 'suggest', now() + interval '8 months' + make_interval(mins => g) FROM generate_series(1, 40) g
            """, user);
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), $1, 'old', 'done', 0, now() - interval '2 years', now() - interval '3 years', now() - interval '2 years'
            FROM generate_series(1, 25)
            """, user);
        Assert.Equal(40L, await ScalarAsync<long>(conn, "SELECT count(*) FROM ai_todo_interactions_default"));
        Assert.Equal(25L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_default"));
        Assert.Equal("WARNING", await Health(conn, "default_partition_empty"));

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        Assert.Contains("moved 65 row(s) out of DEFAULT", run.Steps.Single(s => s.Step == "partitions").Detail);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM ai_todo_interactions_default"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_default"));
        Assert.Equal(40L, await ScalarAsync<long>(conn,
            "SELECT count(*) FROM ai_todo_interactions WHERE tableoid::regclass::text = 'ai_todo_interactions_' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY_MM')"));
        Assert.Equal(25L, await ScalarAsync<long>(conn,
            "SELECT count(*) FROM todos_archived WHERE tableoid::regclass::text = 'todos_archived_' || to_char(completed_at AT TIME ZONE 'UTC', 'YYYY_MM')"));
        Assert.Equal("OK", await Health(conn, "default_partition_empty"));
        Assert.Equal("OK", await Health(conn, "daily_maintenance_recent"));
    }

    // A realistic failure: a long report keeps a transaction open on ai_todo_interactions while a new
    // month is due. Partition DDL must give up quickly (not queue the application behind it), be
    // recorded with its error, and leave archival and ANALYZE to do their work.
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_step_blocked_by_a_long_transaction_fails_with_its_error_recorded_and_the_other_steps_still_run()
    {
        var cs = await server.CreateMigratedDatabaseAsync("failing");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 2, todosPerUser: 30, doneDaysAgo: 40);
        var user = await ScalarAsync<Guid>(conn, "SELECT id FROM users LIMIT 1");
        await ExecAsync(conn, "INSERT INTO ai_todo_interactions (user_id, interaction_type, created_at) VALUES ($1, 'chat', now() + interval '9 months')", user);
        await ExecAsync(conn, """
            UPDATE maintenance_settings SET value = CASE name WHEN 'ddl_lock_timeout' THEN '50ms' WHEN 'ddl_lock_retries' THEN '1' ELSE '10ms' END
            WHERE name IN ('ddl_lock_timeout', 'ddl_lock_retries', 'ddl_retry_delay')
            """);
        await using var report = await server.OpenAsync(cs);
        await using var reportTx = await report.BeginTransactionAsync(Ct);
        await ScalarAsync<long>(report, "SELECT count(*) FROM ai_todo_interactions");

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        Assert.True(run.Failed);
        var partitions = run.Steps.Single(s => s.Step == "partitions");
        Assert.Equal("FAILED", partitions.Status);
        Assert.StartsWith("55P03", partitions.Detail);
        Assert.Equal(("OK", 20L), run.Steps.Single(s => s.Step == "archive") is var a ? (a.Status, a.RowsAffected) : default);
        Assert.Equal("OK", run.Steps.Single(s => s.Step == "analyze").Status);
        Assert.Equal("FAILED", await ScalarAsync<string>(conn, "SELECT status FROM maintenance_history WHERE id = $1", run.RunId!.Value));
        Assert.Contains("partitions FAILED (55P03", await ScalarAsync<string>(conn, "SELECT summary FROM maintenance_history WHERE id = $1", run.RunId!.Value));
        Assert.Contains("lock_timeout 50ms", await ScalarAsync<string>(conn,
            "SELECT error FROM maintenance_job_log WHERE history_id = $1 AND step = 'partitions'", run.RunId!.Value));
        Assert.Equal(20L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));

        await reportTx.RollbackAsync(Ct);
        var retry = await new MaintenanceRunner(cs).RunDailyAsync(Ct);
        Assert.False(retry.Failed, string.Join("; ", retry.Steps));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM ai_todo_interactions_default"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_partition_missing_an_index_of_its_parent_is_critical()
    {
        var cs = await server.CreateMigratedDatabaseAsync("noindex");
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal("OK", await Health(conn, "partition_indexes"));

        // What an interrupted index build leaves: the parent index exists, the partitions' do not.
        await ExecAsync(conn, "CREATE INDEX idx_todos_archived_title ON ONLY todos_archived (title)");

        Assert.Equal("CRITICAL", await Health(conn, "partition_indexes"));
        Assert.Contains("lacks idx_todos_archived_title", await ScalarAsync<string>(conn,
            "SELECT detail FROM check_partition_health() WHERE check_name = 'partition_indexes'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_weekly_run_drops_ai_log_months_past_retention_keeps_archived_todos_and_trims_old_history()
    {
        var cs = await server.CreateMigratedDatabaseAsync("weekly");
        await using var conn = await server.OpenAsync(cs);
        var user = await ScalarAsync<Guid>(conn, "INSERT INTO users (email) VALUES ('w@example.com') RETURNING id");
        await ExecAsync(conn, "INSERT INTO ai_todo_interactions (user_id, interaction_type, created_at) VALUES ($1, 'chat', now() - interval '14 months'), ($1, 'chat', now() - interval '2 months')", user);
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'ancient', 'done', 0, now() - interval '5 years', now() - interval '6 years', now() - interval '5 years')
            """, user);
        await new MaintenanceRunner(cs).RunDailyAsync(Ct); // gives every one of those months its partition
        await ExecAsync(conn, "INSERT INTO maintenance_history (job, started_at, finished_at, status) VALUES ('daily', now() - interval '100 days', now() - interval '100 days', 'OK')");
        // The month of the row itself, which a second reading of the clock could already see as 13 months ago.
        var oldAiPartition = await ScalarAsync<string>(conn,
            "SELECT 'ai_todo_interactions_' || to_char(min(created_at) AT TIME ZONE 'UTC', 'YYYY_MM') FROM ai_todo_interactions");
        Assert.NotNull(await ScalarAsync<string?>(conn, "SELECT to_regclass($1)::text", oldAiPartition));

        var run = await new MaintenanceRunner(cs).RunWeeklyAsync(Ct);

        Assert.False(run.Failed, string.Join("; ", run.Steps));
        Assert.Equal(["health", "retention ai_todo_interactions", "retention todos_archived", "retention maintenance_history", "statistics"],
            run.Steps.Select(s => s.Step));
        Assert.Null(await ScalarAsync<string?>(conn, "SELECT to_regclass($1)::text", oldAiPartition));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM ai_todo_interactions"));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal("SKIPPED", run.Steps.Single(s => s.Step == "retention todos_archived").Status);
        Assert.Equal(1L, run.Steps.Single(s => s.Step == "retention maintenance_history").RowsAffected);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM maintenance_history WHERE started_at < now() - interval '90 days'"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'users'"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_runs_003_twice_on_a_migrated_database_and_keeps_tuned_settings()
    {
        var cs = await server.CreateMigratedDatabaseAsync("psql003");
        await using var conn = await server.OpenAsync(cs);
        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '45' WHERE name = 'archive_after_days'");

        for (var round = 1; round <= 2; round++)
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("003_create_maintenance_jobs.sql"));
            Assert.True(code == 0, $"psql -f 003 (round {round}) exited {code}: {output}");
            Assert.DoesNotContain("ERROR", output);
        }

        Assert.Equal("45", await ScalarAsync<string>(conn, "SELECT value FROM maintenance_settings WHERE name = 'archive_after_days'"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task every_maintenance_query_of_the_guide_runs_with_psql()
    {
        var cs = await server.CreateMigratedDatabaseAsync("guide");
        await using (var conn = await server.OpenAsync(cs))
        {
            await SeedAsync(conn, users: 4, todosPerUser: 30, doneDaysAgo: 40);
        }

        string[] queries =
        [
            "SELECT * FROM run_daily_maintenance();",
            "SELECT run_daily_maintenance();",
            "SELECT run_weekly_maintenance();",
            "SELECT archive_completed_todos(0);",
            "SELECT * FROM get_partition_statistics() ORDER BY size_mb DESC;",
            "SELECT * FROM maintenance_history WHERE started_at >= CURRENT_DATE - INTERVAL '7 days';",
            "SELECT * FROM get_index_usage_stats() WHERE index_scans < 10;",
            "SELECT * FROM check_partition_health();",
            "SELECT count(*) as active_done_todos FROM todos_active WHERE status = 'done' AND completed_at < CURRENT_DATE - INTERVAL '30 days';",
            // The guide's "data distribution" query ends ORDER BY partition::int, which no PostgreSQL
            // accepts (an output alias cannot be used inside an ORDER BY expression); ordered by position.
            """
            SELECT substring(tablename from 'todos_active_part_(\d+)') as partition,
                   pg_size_pretty(pg_total_relation_size(tablename::regclass)) as size
            FROM pg_tables WHERE tablename LIKE 'todos_active_part_%' ORDER BY substring(tablename from 'todos_active_part_(\d+)')::int;
            """,
            "SELECT * FROM maintenance_job_log ORDER BY id;",
        ];
        foreach (var sql in queries)
        {
            var (code, output) = await Psql.RunCommandAsync(server.Binaries, cs, sql);
            Assert.True(code == 0, $"psql -c \"{sql}\" exited {code}: {output}");
        }

        await using var check = await server.OpenAsync(cs);
        Assert.Equal(0L, await ScalarAsync<long>(check, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(0L, await ScalarAsync<long>(check, "SELECT count(*) FROM maintenance_history WHERE status <> 'OK'"));
    }
}
