using System.Text.Json;
using TodoScale.Simulation.LegacyData;
using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

public sealed class SchemaScriptTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_migrator_applies_every_script_on_an_empty_database_and_then_is_a_no_op()
    {
        var cs = await server.CreateEmptyDatabaseAsync("empty");
        var migrator = new SchemaMigrator(cs);

        var first = await migrator.MigrateAsync(ct: TestContext.Current.CancellationToken);
        var second = await migrator.MigrateAsync(ct: TestContext.Current.CancellationToken);

        Assert.Equal(ScalingScripts.Names, first);
        Assert.Contains("001_create_partitioned_tables.sql", first);
        Assert.Contains("005_indexing_optimization.sql", first);
        Assert.Empty(second);
        var status = await migrator.GetStatusAsync(TestContext.Current.CancellationToken);
        Assert.Empty(status.Pending);
        Assert.Equal(16, status.Partitions.Count(p => p.Parent == "todos_active"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_runs_001_then_005_twice_on_a_database_that_holds_a_legacy_todos_table()
    {
        var cs = await server.CreateEmptyDatabaseAsync("legacy");
        await using (var conn = await server.OpenAsync(cs))
        {
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = 5_000 });
        }

        for (var round = 0; round < 2; round++)
        {
            foreach (var file in new[] { "001_create_partitioned_tables.sql", "005_indexing_optimization.sql" })
            {
                var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath(file));
                Assert.True(code == 0, $"psql -f {file} (round {round + 1}) exited {code}: {output}");
                Assert.DoesNotContain("ERROR", output);
            }
        }

        await using var check = await server.OpenAsync(cs);
        Assert.Equal(5_000L, await Scalar<long>(check, "SELECT count(*) FROM todos"));
        Assert.Equal(16L, await Scalar<long>(check,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'todos_active'::regclass"));
        // The application's own users table was kept, and the new tables reference it.
        Assert.Equal(1L, await Scalar<long>(check,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'todos_active_user_fk' AND conrelid = 'todos_active'::regclass"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_guides_partition_listing_shows_sixteen_hash_partitions_and_four_archive_months()
    {
        var cs = await server.CreateMigratedDatabaseAsync("listing");
        await using var conn = await server.OpenAsync(cs);

        var activeTables = await Scalar<long>(conn,
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'todos_active_part_%'");
        var bounds = await Scalar<string>(conn, """
            SELECT string_agg(pg_get_expr(c.relpartbound, c.oid), ' | ' ORDER BY c.relname)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'todos_active'::regclass
            """);
        var archiveMonths = await Scalar<long>(conn,
            "SELECT count(*) FROM pg_tables WHERE tablename ~ '^todos_archived_\\d{4}_\\d{2}$'");

        Assert.Equal(16L, activeTables);
        for (var r = 0; r < 16; r++)
        {
            Assert.Contains($"FOR VALUES WITH (modulus 16, remainder {r})", bounds);
        }

        Assert.True(archiveMonths >= 4, $"expected the current month and the next three, found {archiveMonths}");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task all_todos_of_one_user_live_in_one_partition()
    {
        var cs = await server.CreateMigratedDatabaseAsync("oneuser");
        await using var conn = await server.OpenAsync(cs);
        await Execute(conn, """
            INSERT INTO users (id, email) SELECT gen_random_uuid(), 'u' || g || '@example.com' FROM generate_series(1, 200) g;
            INSERT INTO todos_active (user_id, title) SELECT u.id, 'todo ' || g FROM users u, generate_series(1, 10) g;
            """);

        var usersSpanningPartitions = await Scalar<long>(conn,
            "SELECT count(*) FROM (SELECT user_id FROM todos_active GROUP BY user_id HAVING count(DISTINCT tableoid) > 1) x");
        var partitionsUsed = await Scalar<long>(conn, "SELECT count(DISTINCT tableoid) FROM todos_active");

        Assert.Equal(0L, usersSpanningPartitions);
        Assert.True(partitionsUsed > 8, $"200 users should spread over most of the 16 partitions, used {partitionsUsed}");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_guides_top_20_query_is_an_index_scan_on_exactly_one_partition()
    {
        var cs = await server.CreateMigratedDatabaseAsync("plan");
        await using var conn = await server.OpenAsync(cs);
        await Execute(conn, """
            INSERT INTO users (id, email) SELECT gen_random_uuid(), 'u' || g || '@example.com' FROM generate_series(1, 400) g;
            INSERT INTO todos_active (user_id, title, status, priority)
                SELECT u.id, 'todo ' || g, (ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4], g % 5
                FROM users u, generate_series(1, 40) g;
            -- One heavy user, as in real data: thousands of todos, hundreds of them open.
            INSERT INTO todos_active (user_id, title, status, priority)
                SELECT (SELECT id FROM users ORDER BY email LIMIT 1), 'heavy ' || g,
                       (ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4], g % 5
                FROM generate_series(1, 4000) g;
            ANALYZE todos_active;
            """);
        var userId = await Scalar<Guid>(conn, "SELECT id FROM users ORDER BY email LIMIT 1");

        await using var cmd = new NpgsqlCommand(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM todos_active WHERE user_id = $1 AND status = 'todo' ORDER BY priority DESC LIMIT 20", conn);
        cmd.Parameters.AddWithValue(userId);
        var json = (string)(await cmd.ExecuteScalarAsync())!;

        var nodes = Flatten(JsonDocument.Parse(json).RootElement[0].GetProperty("Plan")).ToList();
        var relations = nodes.Where(n => n.TryGetProperty("Relation Name", out _)).Select(n => n.GetProperty("Relation Name").GetString()).ToList();
        var scans = nodes.Where(n => n.GetProperty("Node Type").GetString() is "Index Scan" or "Index Only Scan").ToList();

        Assert.True(relations.Count == 1, json);
        Assert.StartsWith("todos_active_part_", relations[0]);
        Assert.Single(scans);
        Assert.StartsWith("idx_todos_active_user_status_priority", scans[0].GetProperty("Index Name").GetString());
        Assert.DoesNotContain(nodes, n => n.GetProperty("Node Type").GetString() == "Seq Scan");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_completed_years_from_now_lands_in_the_default_archive_partition()
    {
        var cs = await server.CreateMigratedDatabaseAsync("default");
        await using var conn = await server.OpenAsync(cs);
        await Execute(conn, """
            INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-000000000001', 'far@example.com');
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'far future', 'done', 1,
                    now() + interval '7 years', now(), now()),
                   (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'this month', 'done', 1,
                    now(), now(), now());
            """);

        var far = await Scalar<string>(conn, "SELECT tableoid::regclass::text FROM todos_archived WHERE title = 'far future'");
        var current = await Scalar<string>(conn, "SELECT tableoid::regclass::text FROM todos_archived WHERE title = 'this month'");
        // The month the row was stamped with, not the test's clock, which may already be in the next month.
        var expected = await Scalar<string>(conn,
            "SELECT 'todos_archived_' || to_char(completed_at AT TIME ZONE 'UTC', 'YYYY_MM') FROM todos_archived WHERE title = 'this month'");

        Assert.Equal("todos_archived_default", far);
        Assert.Equal(expected, current);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task creating_a_month_partition_moves_that_months_rows_out_of_the_default()
    {
        var cs = await server.CreateMigratedDatabaseAsync("movedefault");
        await using var conn = await server.OpenAsync(cs);
        await Execute(conn, """
            INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-000000000002', 'm@example.com');
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 'old ' || g, 'done', 1,
                   timestamptz '2020-03-15 12:00:00+00' + g * interval '1 hour', now(), now()
            FROM generate_series(1, 25) g;
            """);
        Assert.Equal(25L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived_default"));

        var created = await Scalar<bool>(conn, "SELECT todoscale_create_month_partition('todos_archived', date '2020-03-01')");

        Assert.True(created);
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived_default"));
        Assert.Equal(25L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived_2020_03"));
        Assert.False(await Scalar<bool>(conn, "SELECT todoscale_create_month_partition('todos_archived', date '2020-03-01')"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_failing_script_is_reported_in_one_line_naming_the_script()
    {
        var cs = await server.CreateEmptyDatabaseAsync("broken");
        await using (var conn = await server.OpenAsync(cs))
        {
            // An application object in the way: todos_active exists but is not a partitioned table.
            await Execute(conn, "CREATE TABLE todos_active (id int)");
        }

        var error = await Assert.ThrowsAsync<SchemaMigrationException>(() => new SchemaMigrator(cs).MigrateAsync());

        Assert.Equal("001_create_partitioned_tables.sql", error.Script);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("todos_active", error.Message);
        var status = await new SchemaMigrator(cs).GetStatusAsync();
        Assert.Contains("001_create_partitioned_tables.sql", status.Pending);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task two_migrators_started_together_apply_each_script_exactly_once()
    {
        var cs = await server.CreateEmptyDatabaseAsync("race");

        var results = await Task.WhenAll(
            Task.Run(() => new SchemaMigrator(cs).MigrateAsync()),
            Task.Run(() => new SchemaMigrator(cs).MigrateAsync()));

        Assert.Equal(ScalingScripts.Names, results.SelectMany(r => r).Order(StringComparer.Ordinal));
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal((long)ScalingScripts.Names.Count, await Scalar<long>(conn, "SELECT count(*) FROM todoscale_schema_versions"));
    }

    private static IEnumerable<JsonElement> Flatten(JsonElement node)
    {
        yield return node;
        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                foreach (var n in Flatten(child))
                {
                    yield return n;
                }
            }
        }
    }

    private static async Task Execute(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<T> Scalar<T>(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
