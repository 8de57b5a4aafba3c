using System.Text.Json;

namespace TodoScale.Api.Tests;

public sealed class OperatorTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "operator");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string> Endpoints => new("/api/ops/partitions", "/api/ops/health", "/api/ops/maintenance", "/api/ops/migration", "/api/ops/migration/engine", "/api/ops/citus", "/api/ops/replication");

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_citus_panel_is_not_found_on_a_single_server_with_a_problem_that_says_why()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);

        var response = await ops.GetAsync("/api/ops/citus");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no Citus extension", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Theory(Timeout = TestTimeouts.Database)]
    [MemberData(nameof(Endpoints))]
    public async Task operator_endpoints_are_forbidden_to_a_user_without_the_operator_role(string path)
    {
        var (_, user) = await _host.NewUserAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client().GetAsync(path)).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_gets_the_rows_of_the_migration_progress_table_newest_first_as_column_name_and_value()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        // What 002's functions write for a start and one batch; the API only reads migration_progress.
        var lastKey = Guid.NewGuid();
        await _host.ExecuteAsync("""
            INSERT INTO migration_progress (step, start_time, end_time, rows_moved, last_key, status, detail) VALUES
                ('start', timestamptz '2026-03-01 10:00:00Z', timestamptz '2026-03-01 10:00:01Z', 0, NULL, 'done', 'mirror trigger installed'),
                ('batch', timestamptz '2026-03-01 10:00:02Z', timestamptz '2026-03-01 10:00:03Z', 5000, $1, 'done', NULL)
            """, lastKey);

        var rows = await (await ops.GetAsync("/api/ops/migration")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        Assert.Equal(2, rows.Count);
        var (batch, start) = (rows[0], rows[1]);
        Assert.Equal(["id", "step", "start_time", "end_time", "rows_moved", "last_key", "status", "detail"], batch.Keys);
        Assert.Equal(("batch", 5000L, lastKey, "done"),
            (batch["step"].GetString(), batch["rows_moved"].GetInt64(), batch["last_key"].GetGuid(), batch["status"].GetString()));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 10, 0, 2, TimeSpan.Zero), batch["start_time"].GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, batch["detail"].ValueKind);
        Assert.Equal(("start", 0L, JsonValueKind.Null, "mirror trigger installed"),
            (start["step"].GetString(), start["rows_moved"].GetInt64(), start["last_key"].ValueKind, start["detail"].GetString()));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_gets_the_batch_engine_state_with_the_signal_that_pauses_it()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        // What a paused archival run leaves in the engine's row (batch_engine_check() writes the signal and its reason).
        await _host.ExecuteAsync("""
            SELECT batch_engine_configure('archival', ARRAY['todos_active', 'todos_archived'], '150 ms');
            UPDATE batch_engine_jobs SET signal = 'vacuum', signal_detail = 'paused 4.0 s: autovacuum on todos_active_part_3 (scanning heap)'
            WHERE job = 'archival';
            """);

        var rows = await (await ops.GetAsync("/api/ops/migration/engine")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        var row = Assert.Single(rows, r => r["job"].GetString() == "archival");
        Assert.Equal(("adaptive, target 150 ms, 100..50000 rows", 150, "vacuum"),
            (row["mode"].GetString(), row["target_ms"].GetInt32(), row["signal"].GetString()));
        Assert.Equal("paused 4.0 s: autovacuum on todos_active_part_3 (scanning heap)", row["detail"].GetString());
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_gets_partition_statistics_that_count_the_rows_in_the_users_partition()
    {
        var (user, ops) = await _host.NewUserAsync(isOperator: true);
        await using (var conn = new NpgsqlConnection(_host.ConnectionString))
        {
            await conn.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO todos_active (user_id, title) SELECT $1, 'todo ' || g FROM generate_series(1, 5) g", conn);
            insert.Parameters.AddWithValue(user);
            await insert.ExecuteNonQueryAsync();
            // The row counts come from the statistics system, which a session updates when it goes idle, at most once a
            // second: without this the endpoint may still see 0 rows. Forced, the counts are in before this call returns.
            await using var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", conn);
            await flush.ExecuteNonQueryAsync();
        }

        var usersPartition = await _host.ScalarAsync<string>("SELECT tableoid::regclass::text FROM todos_active WHERE user_id = $1 LIMIT 1", user);

        var rows = await (await ops.GetAsync("/api/ops/partitions")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        var active = rows.Where(r => r["parent_table"].GetString() == "todos_active")
            .ToDictionary(r => r["partition_name"].GetString()!, r => r["row_estimate"].GetInt64());
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"todos_active_part_{i}").Order(), active.Keys.Order());
        Assert.Equal(5L, active[usersPartition]);
        Assert.All(active.Where(kv => kv.Key != usersPartition), kv => Assert.Equal(0L, kv.Value));
        Assert.Contains(rows, r => r["partition_name"].GetString() == "todos_archived_default" && r["parent_table"].GetString() == "todos_archived");
        Assert.All(rows, r => Assert.True(r["size_mb"].GetDecimal() >= 0));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_gets_the_health_checks_with_a_warning_for_rows_in_a_default_partition()
    {
        var (user, ops) = await _host.NewUserAsync(isOperator: true);
        // Completed years ahead: no month partition exists for it, so it waits in todos_archived_default.
        await _host.ExecuteAsync("""
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'far future', 'done', 0, now() + interval '7 years', now(), now())
            """, user);

        var rows = await (await ops.GetAsync("/api/ops/health")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        var byCheck = rows.ToDictionary(r => r["check_name"].GetString()!, r => (Status: r["status"].GetString(), Detail: r["detail"].GetString()));
        Assert.Equal("WARNING", byCheck["default_partition_empty"].Status);
        Assert.StartsWith("todos_archived_default holds 1 rows", byCheck["default_partition_empty"].Detail);
        Assert.Equal("OK", byCheck["partition_indexes"].Status);
        // A fresh database: no daily run has been recorded yet.
        Assert.Equal("WARNING", byCheck["daily_maintenance_recent"].Status);
        Assert.StartsWith("no successful daily maintenance recorded yet", byCheck["daily_maintenance_recent"].Detail);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_gets_the_maintenance_runs_newest_first_with_the_run_the_job_recorded()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        var first = await new TodoScale.Database.Maintenance.MaintenanceRunner(_host.ConnectionString).RunDailyAsync();
        var second = await new TodoScale.Database.Maintenance.MaintenanceRunner(_host.ConnectionString).RunDailyAsync();

        var rows = await (await ops.GetAsync("/api/ops/maintenance")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        Assert.Equal([second.RunId, first.RunId], rows.Select(r => (long?)r["id"].GetInt64()));
        Assert.All(rows, r => Assert.Equal(("daily", "OK"), (r["job"].GetString(), r["status"].GetString())));
        Assert.All(rows, r => Assert.True(r["finished_at"].GetDateTimeOffset() >= r["started_at"].GetDateTimeOffset()));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_operator_endpoint_whose_table_or_function_is_not_installed_answers_503_with_a_problem()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        await _host.ExecuteAsync("DROP TABLE IF EXISTS maintenance_history CASCADE");

        var response = await ops.GetAsync("/api/ops/maintenance");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("maintenance_history", await response.Content.ReadAsStringAsync());
    }
}
