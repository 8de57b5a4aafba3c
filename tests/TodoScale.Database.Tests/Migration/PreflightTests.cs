using TodoScale.Database.Migration;
using static TodoScale.Database.Tests.Migration.LegacyDb;

namespace TodoScale.Database.Tests.Migration;

/// <summary>Legacy quirks: each is either blocking (nothing moves, clear message) or moved by a documented rule.</summary>
public sealed class PreflightTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_clean_legacy_table_has_no_blocking_issue()
    {
        var cs = await CreateAsync(server, "preclean", rows: 300);

        var issues = await new LegacyMigration(cs).PreflightAsync();

        Assert.DoesNotContain(issues, i => i.IsBlocking);
        Assert.Contains(issues, i => i.CheckName == "rows_to_migrate" && i.AffectedRows == 300);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_subtask_foreign_key_without_an_index_is_advised_and_an_index_on_it_satisfies_the_check()
    {
        var cs = await CreateAsync(server, "preparent", rows: 300);

        var before = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "unindexed_foreign_key_parent_todo_id");
        await using (var conn = new Npgsql.NpgsqlConnection(cs))
        {
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            await ExecAsync(conn, "CREATE INDEX todos_parent_todo_id_idx ON todos (parent_todo_id)");
        }

        var after = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "unindexed_foreign_key_parent_todo_id");
        Assert.Equal("info", before.Severity);
        Assert.False(before.IsBlocking);
        Assert.Contains("CREATE INDEX CONCURRENTLY todos_parent_todo_id_idx ON todos (parent_todo_id)", before.Handling);
        Assert.Equal("ok", after.Severity);
        Assert.Contains("todos_parent_todo_id_idx", after.Handling);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task unknown_status_values_block_the_run_and_nothing_moves()
    {
        var cs = await CreateAsync(server, "prestatus", rows: 300, conn =>
            ExecAsync(conn, "UPDATE todos SET status = 'waiting' WHERE id IN (SELECT id FROM todos ORDER BY id LIMIT 3)"));

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "unknown_status_values");
        var blocked = await Assert.ThrowsAsync<MigrationBlockedException>(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions()));

        Assert.Equal(("blocking", 3L), (issue.Severity, issue.AffectedRows));
        Assert.Contains("'waiting'", issue.Handling);
        Assert.Contains(blocked.Issues, i => i.CheckName == "unknown_status_values");
        await AssertNothingMovedAsync(cs);
    }

    [Theory(Timeout = TestTimeouts.Database)]
    [InlineData("user_id", "ALTER TABLE todos ALTER COLUMN user_id DROP NOT NULL; UPDATE todos SET user_id = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    [InlineData("title", "ALTER TABLE todos ALTER COLUMN title DROP NOT NULL; UPDATE todos SET title = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    [InlineData("priority", "ALTER TABLE todos ALTER COLUMN priority DROP NOT NULL; UPDATE todos SET priority = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    [InlineData("created_at", "ALTER TABLE todos ALTER COLUMN created_at DROP NOT NULL; UPDATE todos SET created_at = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    [InlineData("updated_at", "ALTER TABLE todos ALTER COLUMN updated_at DROP NOT NULL; UPDATE todos SET updated_at = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    [InlineData("ai_generated", "ALTER TABLE todos ALTER COLUMN ai_generated DROP NOT NULL; UPDATE todos SET ai_generated = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)")]
    public async Task a_null_where_the_new_tables_need_a_value_blocks_the_run(string column, string quirk)
    {
        var cs = await CreateAsync(server, "prenull" + column, rows: 300, conn => ExecAsync(conn, quirk));

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "null_" + column);
        var blocked = await Assert.ThrowsAsync<MigrationBlockedException>(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions()));

        Assert.Equal(("blocking", 1L), (issue.Severity, issue.AffectedRows));
        Assert.Contains(blocked.Issues, i => i.CheckName == "null_" + column);
        await AssertNothingMovedAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_null_status_counts_as_an_unknown_status()
    {
        var cs = await CreateAsync(server, "prenullstatus", rows: 300, conn =>
            ExecAsync(conn, "ALTER TABLE todos ALTER COLUMN status DROP NOT NULL; UPDATE todos SET status = NULL WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)"));

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "unknown_status_values");

        Assert.Equal(("blocking", 1L), (issue.Severity, issue.AffectedRows));
        Assert.Contains("NULL", issue.Handling);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task user_ids_without_a_user_block_the_run()
    {
        var cs = await CreateAsync(server, "preorphanuser", rows: 300, conn => ExecAsync(conn, """
            ALTER TABLE todos DROP CONSTRAINT todos_user_id_fkey;
            UPDATE todos SET user_id = gen_random_uuid() WHERE id IN (SELECT id FROM todos WHERE parent_todo_id IS NULL ORDER BY id LIMIT 2);
            """));

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "user_without_user_row");
        var blocked = await Assert.ThrowsAsync<MigrationBlockedException>(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions()));

        Assert.Equal(("blocking", 2L), (issue.Severity, issue.AffectedRows));
        Assert.Contains(blocked.Issues, i => i.CheckName == "user_without_user_row");
        await AssertNothingMovedAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_psql_path_stops_with_the_blocking_reason_and_moves_nothing()
    {
        var cs = await CreateAsync(server, "prepsql", rows: 300, conn =>
            ExecAsync(conn, "UPDATE todos SET status = 'someday' WHERE id = (SELECT id FROM todos ORDER BY id LIMIT 1)"));

        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("002_migrate_existing_data.sql"));

        Assert.NotEqual(0, code);
        Assert.Contains("migration blocked by preflight: unknown_status_values", output);
        await AssertNothingMovedAsync(cs);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task done_rows_without_completed_at_move_to_todos_active_unchanged()
    {
        var cs = await CreateAsync(server, "predonenull", rows: 600, conn => ExecAsync(conn,
            "UPDATE todos SET completed_at = NULL WHERE id IN (SELECT id FROM todos WHERE status = 'done' ORDER BY id LIMIT 7)"));

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "done_without_completed_at");
        var result = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 200 });

        Assert.Equal(("info", 7L), (issue.Severity, issue.AffectedRows));
        Assert.True(result.Completed);
        await AssertAllPassAsync(cs);
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal(7L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done' AND completed_at IS NULL"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task project_ids_without_a_project_are_copied_unchanged()
    {
        var orphanProject = Guid.NewGuid();
        var cs = await CreateAsync(server, "preorphanproject", rows: 300, async conn =>
        {
            await ExecAsync(conn, "ALTER TABLE todos DROP CONSTRAINT todos_project_id_fkey");
            await ExecAsync(conn, "UPDATE todos SET project_id = $1 WHERE id IN (SELECT id FROM todos ORDER BY id LIMIT 4)", orphanProject);
        });

        var issue = (await new LegacyMigration(cs).PreflightAsync()).Single(i => i.CheckName == "project_without_project_row");
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());

        Assert.Equal(("info", 4L), (issue.Severity, issue.AffectedRows));
        await AssertAllPassAsync(cs);
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal(4L, await ScalarAsync<long>(conn, $"SELECT count(*) FROM ({NewRows}) u WHERE project_id = $1", orphanProject));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rows_already_in_the_new_tables_block_a_fresh_start()
    {
        var cs = await CreateAsync(server, "prenotempty", rows: 300);
        await using (var conn = await server.OpenAsync(cs))
        {
            await ExecAsync(conn, "INSERT INTO todos_active (user_id, title) SELECT id, 'written before the migration' FROM users LIMIT 1");
        }

        var blocked = await Assert.ThrowsAsync<MigrationBlockedException>(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions()));

        Assert.Contains(blocked.Issues, i => i.CheckName == "new_tables_empty" && i.AffectedRows == 1);
    }

    private async Task AssertNothingMovedAsync(string cs)
    {
        await using var conn = await server.OpenAsync(cs);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_trigger WHERE tgname = 'todoscale_mirror'"));
        Assert.Equal("not_started", await ScalarAsync<string>(conn, "SELECT state FROM migration_status()"));
    }
}
