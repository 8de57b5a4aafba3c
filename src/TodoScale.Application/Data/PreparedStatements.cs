using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Application.Data;

/// <summary>
/// How the services reach the database: the one place that says which path uses EF Core and which runs the
/// statements of <see cref="TodoQueries"/> through Npgsql, and why. Every service keeps to it.
/// <list type="bullet">
/// <item><b>TodoQueries, through these helpers</b>: the per-user hot reads, i.e. the todo list
/// (<c>ListActivePage</c>, <c>ListArchivedPage</c>), the dashboard (<c>DashboardCounts</c>, <c>ArchivedCompletedCount</c>,
/// <c>DashboardTopOpen</c>, <c>ProjectsWithCounts</c>, <c>RecentAiInteractions</c>, sent in one batch), an archived todo by id
/// (<c>ArchivedById</c>: the archive's reads go through the functions of 009, which read only the months they need) and the project list with counts. The
/// API's connections prepare them (automatic preparation) and run them with plan_cache_mode=force_generic_plan: one
/// plan per connection that prunes to the user's partition at run time. EF Core would send its own SQL text, which
/// the benchmarks (they run these very statements) would then no longer measure. Also the writes EF Core cannot say
/// as one statement: complete, update and reopen (UPDATE/INSERT ... RETURNING with SQL expressions such as
/// <c>coalesce(completed_at, now())</c>), reopening an archived todo (a move between tables in one statement, so a
/// reader sees it in exactly one), deleting a todo with its subtasks (recursive, across both tables, all or
/// nothing) and detaching a deleted project's todos (with the project's DELETE, in one transaction).</item>
/// <item><b>EF Core</b> (<see cref="TodoDbContext"/>): inserts (todos, projects, AI interactions, users; several in
/// one SaveChanges when they belong together, as AI-suggested subtasks with their interaction), the rename, and
/// the rare reads by key: one todo, its subtasks, its AI interactions, a project's existence, a user by email.
/// These are not on the hot path and the entity mapping keeps them short; every one still filters on user_id.</item>
/// </list>
/// </summary>
internal static class PreparedStatements
{
    public static NpgsqlCommand Command(NpgsqlConnection conn, string sql, NpgsqlParameter[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.AddRange(parameters);
        return cmd;
    }

    public static NpgsqlBatchCommand BatchCommand(string sql, NpgsqlParameter[] parameters)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        cmd.Parameters.AddRange(parameters);
        return cmd;
    }

    /// <summary>Every row of the statement, each mapped by <paramref name="map"/>.</summary>
    public static async Task<List<T>> ReadAllAsync<T>(NpgsqlConnection conn, string sql, NpgsqlParameter[] parameters,
        Func<NpgsqlDataReader, T> map, CancellationToken ct)
    {
        await using var cmd = Command(conn, sql, parameters);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await ReadRowsAsync(r, map, ct);
    }

    /// <summary>The rows of the reader's current result, each mapped by <paramref name="map"/>.</summary>
    public static async Task<List<T>> ReadRowsAsync<T>(NpgsqlDataReader r, Func<NpgsqlDataReader, T> map, CancellationToken ct)
    {
        var list = new List<T>();
        while (await r.ReadAsync(ct))
        {
            list.Add(map(r));
        }

        return list;
    }

    // Parameters are typed explicitly: a prepared statement's plan is made for its parameter types, and a null
    // without a type would leave the server to infer one.
    public static NpgsqlParameter P(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };
    public static NpgsqlParameter P(Guid? value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value is { } v ? v : DBNull.Value };
    public static NpgsqlParameter P(int value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value };
    public static NpgsqlParameter P(DateTime value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DateTime.SpecifyKind(value, DateTimeKind.Utc) };

    public static NpgsqlParameter P(DateTime? value) => new()
    {
        NpgsqlDbType = NpgsqlDbType.TimestampTz,
        Value = value is { } v ? DateTime.SpecifyKind(v.ToUniversalTime(), DateTimeKind.Utc) : DBNull.Value,
    };

    public static NpgsqlParameter P(object? value, NpgsqlDbType type) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };
}
