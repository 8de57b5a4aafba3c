using TodoScale.Simulation.LegacyData;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Migration;

/// <summary>An application database as TodoScale meets it: legacy todos filled, then `todoscale db migrate` applied.</summary>
internal static class LegacyDb
{
    public const string Columns =
        "id, user_id, parent_todo_id, project_id, title::text, description, status::text, priority, due_date, completed_at, ai_generated, created_at, updated_at";

    public const string NewRows =
        $"SELECT {Columns} FROM todos_active UNION ALL SELECT {Columns} FROM todos_archived";

    public static async Task<string> CreateAsync(PostgresServer server, string prefix, int rows, Func<NpgsqlConnection, Task>? beforeSchema = null)
    {
        var cs = await server.CreateEmptyDatabaseAsync(prefix);
        // No client timeout: COPY of a million rows for the figures outlasts the default 30 s.
        await using (var conn = await server.OpenAsync(new NpgsqlConnectionStringBuilder(cs) { CommandTimeout = 0 }.ConnectionString))
        {
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rows });
            if (beforeSchema is not null)
            {
                await beforeSchema(conn);
            }
        }

        await new SchemaMigrator(cs).MigrateAsync();
        return cs;
    }

    /// <summary>Row-by-row, all 13 columns: legacy rows absent from the new tables, and new rows absent from legacy (multiset).</summary>
    public static async Task<(long MissingInNew, long ExtraInNew)> DiffAsync(NpgsqlConnection conn)
    {
        var missing = await ScalarAsync<long>(conn, $"SELECT count(*) FROM (SELECT {Columns} FROM todos EXCEPT ALL ({NewRows})) d");
        var extra = await ScalarAsync<long>(conn, $"SELECT count(*) FROM (({NewRows}) EXCEPT ALL SELECT {Columns} FROM todos) d");
        return (missing, extra);
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }

        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task ExecAsync(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    public static async Task AssertAllPassAsync(string cs)
    {
        var checks = await new LegacyMigration(cs).ValidateAsync();
        Assert.NotEmpty(checks);
        var failed = checks.Where(c => !c.Passed).Select(c => $"{c.CheckName}: expected {c.Expected}, actual {c.Actual}").ToList();
        Assert.True(failed.Count == 0, "validation failed: " + string.Join("; ", failed));
    }

    /// <summary>Reports synchronously on the runner's thread (Progress&lt;T&gt; would post them later, in any order).</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
