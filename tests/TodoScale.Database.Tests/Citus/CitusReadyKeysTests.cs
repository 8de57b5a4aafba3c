using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Citus;

/// <summary>
/// 007_citus_ready_keys.sql on an existing single-node installation (the layout before 007, with rows): keys gain
/// user_id, the status CHECK moves to the partitions and is still enforced, no row changes, and a second run changes
/// nothing. A legacy table that references projects(id) keeps that key until distribute.sql drops the reference.
/// </summary>
public sealed class CitusReadyKeysTests(PostgresServer server)
{
    // The layout 001 created before 007 existed.
    private const string Pre007Layout = """
        ALTER TABLE todos_archived DROP CONSTRAINT todos_archived_pkey, ADD CONSTRAINT todos_archived_pkey PRIMARY KEY (id, completed_at);
        ALTER TABLE ai_todo_interactions DROP CONSTRAINT ai_todo_interactions_pkey, ADD CONSTRAINT ai_todo_interactions_pkey PRIMARY KEY (id, created_at);
        ALTER TABLE projects DROP CONSTRAINT projects_pkey, ADD CONSTRAINT projects_pkey PRIMARY KEY (id);
        DO $$ BEGIN
            FOR i IN 0..15 LOOP
                EXECUTE format('ALTER TABLE todos_active_part_%s DROP CONSTRAINT todos_active_part_%s_status_check', i, i);
            END LOOP;
        END $$;
        ALTER TABLE todos_active ADD CONSTRAINT todos_active_status_check CHECK (status IN ('todo', 'in_progress', 'done', 'cancelled'));
        """;

    private const string Keys = """
        SELECT string_agg(format('%s(%s)', conrelid::regclass, pg_get_constraintdef(oid)), '; ' ORDER BY conrelid::regclass::text)
        FROM pg_constraint WHERE contype = 'p' AND conrelid IN ('projects'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass)
        """;

    private const string StatusChecks =
        "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conname LIKE 'todos_active%status_check' AND conrelid::regclass::text LIKE 'todos_active_part_%'";

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task upgrading_an_installation_adds_user_id_to_the_keys_keeps_every_row_and_still_refuses_an_unknown_status()
    {
        var cs = await server.CreateMigratedDatabaseAsync("keys007");
        await Sql.ExecAsync(cs, Pre007Layout);
        await SeedAsync(cs);
        var rows = await FingerprintAsync(cs);

        await new SchemaMigrator(cs).ReapplyAsync("007_citus_ready_keys.sql");

        Assert.Equal("ai_todo_interactions(PRIMARY KEY (id, created_at, user_id)); projects(PRIMARY KEY (id, user_id)); todos_archived(PRIMARY KEY (id, completed_at, user_id))",
            await Sql.ScalarAsync<string>(cs, Keys));
        Assert.Equal(16L, await Sql.ScalarAsync<long>(cs, StatusChecks));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'todos_active'::regclass AND contype = 'c'"));
        Assert.Equal(rows, await FingerprintAsync(cs));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => Sql.ExecAsync(cs,
            "INSERT INTO todos_active (user_id, title, status) SELECT id, 'x', 'someday' FROM users LIMIT 1"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);

        var catalog = await Sql.ScalarAsync<string>(cs, "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace");
        await new SchemaMigrator(cs).ReapplyAsync("007_citus_ready_keys.sql");
        Assert.Equal(catalog, await Sql.ScalarAsync<string>(cs, "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task projects_keeps_its_id_key_while_a_legacy_table_references_it()
    {
        var cs = await server.CreateMigratedDatabaseAsync("keys007legacy");
        await Sql.ExecAsync(cs, Pre007Layout);
        await Sql.ExecAsync(cs, "CREATE TABLE todos (id uuid PRIMARY KEY, project_id uuid REFERENCES projects (id) ON DELETE SET NULL)");

        await new SchemaMigrator(cs).ReapplyAsync("007_citus_ready_keys.sql");

        Assert.Equal("ai_todo_interactions(PRIMARY KEY (id, created_at, user_id)); projects(PRIMARY KEY (id)); todos_archived(PRIMARY KEY (id, completed_at, user_id))",
            await Sql.ScalarAsync<string>(cs, Keys));
        Assert.Equal("projects keeps its key (id): todos.todos_project_id_fkey references it",
            await Sql.ScalarAsync<string>(cs, "SELECT todoscale_citus_projects_key()"));
    }

    private static Task SeedAsync(string cs) => Sql.ExecAsync(cs, """
        INSERT INTO users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 20) g;
        INSERT INTO projects (user_id, name) SELECT id, 'p' FROM users;
        INSERT INTO todos_active (user_id, title, status) SELECT id, 't' || g, 'todo' FROM users, generate_series(1, 10) g;
        INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
        SELECT gen_random_uuid(), id, 'a', 'done', 1, now(), now(), now() FROM users;
        INSERT INTO ai_todo_interactions (user_id, interaction_type) SELECT id, 'suggest' FROM users;
        """);

    private static Task<string> FingerprintAsync(string cs) => Sql.ScalarAsync<string>(cs, """
        SELECT md5(string_agg(h, ',' ORDER BY h)) FROM (
            SELECT md5(t::text) h FROM todos_active t UNION ALL SELECT md5(t::text) FROM todos_archived t
            UNION ALL SELECT md5(t::text) FROM projects t UNION ALL SELECT md5(t::text) FROM ai_todo_interactions t) s
        """);
}
