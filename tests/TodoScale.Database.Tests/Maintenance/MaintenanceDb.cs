namespace TodoScale.Database.Tests.Maintenance;

/// <summary>Small helpers the maintenance tests share: seeding users and todos, scalar queries.</summary>
internal static class MaintenanceDb
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<T> Scalar<T>(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.AddWithValue(a);
        }

        var value = await cmd.ExecuteScalarAsync(Ct);
        return value is DBNull or null ? default! : (T)value;
    }

    public static async Task<int> Exec(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.AddWithValue(a);
        }

        return await cmd.ExecuteNonQueryAsync(Ct);
    }

    public static async Task<List<Guid>> Ids(NpgsqlConnection conn, string sql)
    {
        var ids = new List<Guid>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    /// <summary>Creates users and todos: every third done, completed <paramref name="doneDaysAgo"/> days ago.</summary>
    public static async Task<List<Guid>> SeedAsync(NpgsqlConnection conn, int users, int todosPerUser, int doneDaysAgo = 40)
    {
        await Exec(conn, "INSERT INTO users (email) SELECT 'user' || g || '-' || gen_random_uuid() || '@example.com' FROM generate_series(1, $1) g", users);
        await Exec(conn, """
            INSERT INTO todos_active (user_id, title, description, status, priority, completed_at, created_at)
            SELECT u.id, 'todo ' || g, 'seeded', CASE WHEN g % 3 = 0 THEN 'done' ELSE 'todo' END, g % 5,
                   CASE WHEN g % 3 = 0 THEN now() - make_interval(days => $2) END,
                   now() - make_interval(days => $2 + 10)
            FROM users u, generate_series(1, $1) g
            """, todosPerUser, doneDaysAgo);
        return await Ids(conn, "SELECT id FROM users ORDER BY id");
    }
}
