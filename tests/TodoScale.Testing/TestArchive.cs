using Npgsql;

namespace TodoScale.Testing;

public static class TestArchive
{
    /// <summary>
    /// Test setup only: moves one done todo into todos_archived the way archival does (same columns plus
    /// archived_at). The real archival, archive_completed_todos(), moves every eligible todo; tests that need
    /// one particular todo in the archive use this instead.
    /// </summary>
    public static async Task ArchiveTodoAsync(string connectionString, Guid userId, Guid id)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            WITH moved AS (DELETE FROM todos_active WHERE user_id = $1 AND id = $2 AND status = 'done' RETURNING *)
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at FROM moved
            """, conn);
        cmd.Parameters.AddWithValue(userId);
        cmd.Parameters.AddWithValue(id);
        await cmd.ExecuteNonQueryAsync();
    }
}
