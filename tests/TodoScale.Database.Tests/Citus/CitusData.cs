using Npgsql;

namespace TodoScale.Database.Tests.Citus;

/// <summary>Seed rows and table fingerprints shared by the Citus tests.</summary>
internal static class CitusData
{
    public static readonly string[] Tables = ["users", "projects", "todos_active", "todos_archived", "ai_todo_interactions"];

    /// <summary>
    /// 60 users, a project each, 20 active todos each (a third done, some of them older than 30 days), 5 archived todos
    /// each in past months, one AI interaction each. Dates relative to now(): the archive months exist (created here).
    /// </summary>
    public const string SeedSql = """
        INSERT INTO users (email) SELECT 'seed' || g || '@example.com' FROM generate_series(1, 60) g;
        INSERT INTO projects (user_id, name) SELECT id, 'Home' FROM users;
        INSERT INTO todos_active (user_id, title, status, priority, completed_at, created_at, updated_at)
        SELECT u.id, 'seed ' || g, CASE WHEN g % 3 = 0 THEN 'done' ELSE 'todo' END, g % 5,
               CASE WHEN g % 3 = 0 THEN now() - make_interval(days => g * 4) END,
               now() - make_interval(days => 100 + g), now() - make_interval(days => 90)
        FROM users u, generate_series(1, 20) g;
        SELECT todoscale_create_month_partition('todos_archived'::regclass, (now() - make_interval(months => k))::date)
        FROM generate_series(1, 5) k;
        INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
        SELECT gen_random_uuid(), u.id, 'archived ' || g, 'done', 1, now() - make_interval(days => 35 + g * 20),
               now() - interval '200 days', now() - interval '150 days'
        FROM users u, generate_series(1, 5) g;
        INSERT INTO ai_todo_interactions (user_id, interaction_type, prompt) SELECT id, 'suggest', 'seed' FROM users;
        """;

    /// <summary>Row count and an order-independent fingerprint of every row of each table (filter applied to all).</summary>
    public static async Task<Dictionary<string, (long Rows, string Md5)>> FingerprintsAsync(string cs, string where = "true")
    {
        var result = new Dictionary<string, (long, string)>();
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        foreach (var table in Tables)
        {
            // Table names from the fixed list above; the filter is the test's own constant text.
            await using var cmd = new NpgsqlCommand(
                $"SELECT count(*), coalesce(md5(string_agg(h, ',' ORDER BY h)), '') FROM (SELECT md5(t::text) h FROM {table} t WHERE {where}) s", conn);
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            result[table] = (r.GetInt64(0), r.GetString(1));
        }

        return result;
    }

    /// <summary>
    /// A database on the coordinator's server without the citus extension: the single node an installation starts
    /// from (the server loads Citus, the database does not use it yet). <see cref="CitusServer"/> makes it a Citus
    /// database later with <c>EnsureDatabaseAsync</c>.
    /// </summary>
    public static async Task<string> PlainDatabaseOnCoordinatorAsync(CitusServer citus, string prefix)
    {
        var cluster = await citus.ClusterAsync();
        var name = $"{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 13)];
        await Sql.ExecAsync(cluster.Coordinator.ConnectionString("postgres"), $"CREATE DATABASE {name}");
        return new NpgsqlConnectionStringBuilder(cluster.ConnectionString(name)) { ConnectionIdleLifetime = 5, ConnectionPruningInterval = 1 }.ConnectionString;
    }

    public static async Task<string?> CitusTypeAsync(string cs, string table) =>
        await Sql.ScalarAsync<string?>(cs, "SELECT todoscale_citus_table_type(to_regclass($1))", table);
}
