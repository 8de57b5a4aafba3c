using Npgsql;
using Xunit;

namespace TodoScale.Testing;

/// <summary>
/// The one set of ad-hoc statement helpers the test projects share: a scalar, a statement's row count, and the first
/// column of every row. Arguments bind positionally to $1, $2, … (never concatenated into the SQL). Each runs on the
/// given connection, data source or connection string with that source's command timeout (Npgsql's 30 s unless the
/// connection string says otherwise); the <c>…WithoutTimeout</c> variants are for statements that legitimately run
/// longer (index builds, bulk seeding) and would otherwise be cut off at 30 s on a slow machine.
/// </summary>
/// <remarks>
/// Every call honours the running test's cancellation token, so a test that hits its timeout stops its statement
/// instead of leaving it running (and holding locks) on the shared server while the next test starts.
/// </remarks>
public static class Sql
{
    /// <summary>The first column of the first row. NULL (or no row) comes back as null for a nullable
    /// <typeparamref name="T"/> and fails for a value type, so a missing row cannot pass as 0 or false.</summary>
    public static Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql, params object[] args) =>
        ReadScalarAsync<T>(Command(conn, sql, null, args), sql);

    public static Task<T> ScalarWithoutTimeoutAsync<T>(NpgsqlConnection conn, string sql, params object[] args) =>
        ReadScalarAsync<T>(Command(conn, sql, 0, args), sql);

    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object[] args)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        Bind(cmd, args);
        return await ReadScalarAsync<T>(cmd, sql);
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, params object[] args)
    {
        await using var conn = await OpenAsync(connectionString);
        return await ScalarAsync<T>(conn, sql, args);
    }

    /// <summary>Runs a statement; returns the rows it affected (-1 for statements without a row count).</summary>
    public static Task<int> ExecAsync(NpgsqlConnection conn, string sql, params object[] args) =>
        RunAsync(Command(conn, sql, null, args));

    public static Task<int> ExecWithoutTimeoutAsync(NpgsqlConnection conn, string sql, params object[] args) =>
        RunAsync(Command(conn, sql, 0, args));

    public static async Task<int> ExecAsync(NpgsqlDataSource dataSource, string sql, params object[] args)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        Bind(cmd, args);
        return await RunAsync(cmd);
    }

    public static async Task<int> ExecAsync(string connectionString, string sql, params object[] args)
    {
        await using var conn = await OpenAsync(connectionString);
        return await ExecAsync(conn, sql, args);
    }

    /// <summary>The first column of every row, in the order the query returns them.</summary>
    public static async Task<List<T>> ColumnAsync<T>(NpgsqlConnection conn, string sql, params object[] args)
    {
        var values = new List<T>();
        await using var cmd = Command(conn, sql, null, args);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    /// <summary>Every row of the statement, each mapped by <paramref name="map"/>.</summary>
    public static async Task<List<T>> RowsAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> map, params object[] args)
    {
        var rows = new List<T>();
        await using var cmd = Command(conn, sql, null, args);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    /// <summary>
    /// Returns once the session <paramref name="pid"/> waits on a lock (pg_stat_activity, read through
    /// <paramref name="watcher"/>); fails with <paramref name="failure"/> if <paramref name="work"/> ends first, since it
    /// was meant to wait. The test's own timeout ends a wait that never comes.
    /// </summary>
    public static async Task WaitUntilWaitingOnLockAsync(NpgsqlConnection watcher, int pid, Task work, string failure)
    {
        while (await ScalarAsync<long>(watcher, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", pid) == 0)
        {
            if (work.IsCompleted)
            {
                throw new InvalidOperationException(failure);
            }

            await Task.Delay(20, Ct);
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NpgsqlCommand Command(NpgsqlConnection conn, string sql, int? timeoutSeconds, object[] args)
    {
        var cmd = new NpgsqlCommand(sql, conn);
        if (timeoutSeconds is { } seconds)
        {
            cmd.CommandTimeout = seconds;
        }

        Bind(cmd, args);
        return cmd;
    }

    private static void Bind(NpgsqlCommand cmd, object[] args)
    {
        foreach (var a in args)
        {
            // A typed NpgsqlParameter as it is (a NULL whose type the statement needs); any other value inferred.
            cmd.Parameters.Add(a as NpgsqlParameter ?? new NpgsqlParameter { Value = a });
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var conn = new NpgsqlConnection(connectionString);
        try
        {
            await conn.OpenAsync(Ct);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    private static async Task<T> ReadScalarAsync<T>(NpgsqlCommand cmd, string sql)
    {
        await using (cmd)
        {
            var value = await cmd.ExecuteScalarAsync(Ct);
            if (value is null or DBNull)
            {
                return default(T) is null
                    ? default!
                    : throw new InvalidOperationException($"expected a {typeof(T).Name}, got NULL or no row from: {sql}");
            }

            return (T)value;
        }
    }

    private static async Task<int> RunAsync(NpgsqlCommand cmd)
    {
        await using (cmd)
        {
            return await cmd.ExecuteNonQueryAsync(Ct);
        }
    }
}
