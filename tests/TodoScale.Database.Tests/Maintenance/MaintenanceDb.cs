namespace TodoScale.Database.Tests.Maintenance;

/// <summary>Small helpers the maintenance tests share: the test's cancellation token, seeding users and todos.</summary>
internal static class MaintenanceDb
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates users and todos: every third done, completed <paramref name="doneDaysAgo"/> days ago.</summary>
    public static async Task<List<Guid>> SeedAsync(NpgsqlConnection conn, int users, int todosPerUser, int doneDaysAgo = 40)
    {
        await ExecAsync(conn, "INSERT INTO users (email) SELECT 'user' || g || '-' || gen_random_uuid() || '@example.com' FROM generate_series(1, $1) g", users);
        await ExecAsync(conn, """
            INSERT INTO todos_active (user_id, title, description, status, priority, completed_at, created_at)
            SELECT u.id, 'todo ' || g, 'seeded', CASE WHEN g % 3 = 0 THEN 'done' ELSE 'todo' END, g % 5,
                   CASE WHEN g % 3 = 0 THEN now() - make_interval(days => $2) END,
                   now() - make_interval(days => $2 + 10)
            FROM users u, generate_series(1, $1) g
            """, todosPerUser, doneDaysAgo);
        return await ColumnAsync<Guid>(conn, "SELECT id FROM users ORDER BY id");
    }
}
