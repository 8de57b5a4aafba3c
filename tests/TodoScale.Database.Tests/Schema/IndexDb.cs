using System.Diagnostics;
using System.Text.RegularExpressions;

namespace TodoScale.Database.Tests.Schema;

/// <summary>Reads and resets the indexes 005 builds, and drives application-like writers while it builds them.</summary>
internal static partial class IndexDb
{
    public const string Script = "005_indexing_optimization.sql";

    /// <summary>Every index of the application's tables: table | index | definition | valid | the index it is attached to.</summary>
    public static async Task<List<string>> SnapshotAsync(NpgsqlConnection conn, bool withOids = false)
    {
        var rows = new List<string>();
        await using var cmd = new NpgsqlCommand("""
            SELECT format('%s | %s | %s | valid=%s | attached to %s%s', t.relname, i.relname, pg_get_indexdef(i.oid), x.indisvalid::text,
                          coalesce(pi.relname, '-'), CASE WHEN $1 THEN ' | oid ' || i.oid END)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            LEFT JOIN pg_inherits h ON h.inhrelid = i.oid
            LEFT JOIN pg_class pi ON pi.oid = h.inhparent
            WHERE t.relnamespace = 'public'::regnamespace AND t.relname NOT IN ('todoscale_schema_versions', 'todoscale_schema_checksums')
            ORDER BY 1
            """, conn);
        cmd.Parameters.AddWithValue(withOids);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    /// <summary>
    /// Drops the lines of a month partition that only one of two snapshots has: two databases created a
    /// moment apart on either side of a month boundary get different "current month and next three".
    /// </summary>
    public static (List<string> A, List<string> B) WithoutUnsharedMonths(List<string> a, List<string> b)
    {
        static string Table(string line) => line[..line.IndexOf(" | ", StringComparison.Ordinal)];
        var tablesA = a.Select(Table).ToHashSet();
        var tablesB = b.Select(Table).ToHashSet();
        var unshared = tablesA.Except(tablesB).Concat(tablesB.Except(tablesA)).ToList();
        Assert.All(unshared, t => Assert.Matches(MonthPartition(), t));
        Assert.True(unshared.Count <= 2, $"more than a month boundary apart: {string.Join(", ", unshared)}");
        return (a.Where(l => !unshared.Contains(Table(l))).ToList(), b.Where(l => !unshared.Contains(Table(l))).ToList());
    }

    [GeneratedRegex(@"_\d{4}_\d{2}$")]
    private static partial Regex MonthPartition();

    public static async Task<List<string>> PlanAsync(NpgsqlConnection conn)
    {
        var plan = new List<string>();
        await using var cmd = new NpgsqlCommand("SELECT stmt FROM todoscale_index_plan() ORDER BY step", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(0));
        }

        return plan;
    }

    /// <summary>Drops 005's indexes (each parent index takes its partitions' indexes with it).</summary>
    public static Task DropAllAsync(NpgsqlConnection conn) => ExecuteAsync(conn, """
        DO $$
        DECLARE d record;
        BEGIN
            FOR d IN SELECT index_name FROM todoscale_index_definitions() LOOP
                EXECUTE format('DROP INDEX IF EXISTS %I', d.index_name);
            END LOOP;
        END;
        $$
        """);

    /// <summary>Makes the migrator see 005 as pending again (as on an installation that has not run it yet).</summary>
    public static Task ForgetJournalledAsync(NpgsqlConnection conn) =>
        ExecuteAsync(conn, "DELETE FROM todoscale_schema_versions WHERE scriptname = $1", Script);

    /// <summary>
    /// The build 005 did before it built concurrently (and todoscale_ensure_partitioned_index still does): every
    /// index of one parent in the caller's transaction, each partition's index built and attached in turn.
    /// </summary>
    public static Task OneTransactionBuildAsync(NpgsqlConnection conn, string? parentTable = null) => ExecuteAsync(conn, """
        SELECT todoscale_ensure_partitioned_index(d.parent_table::regclass, d.index_name, d.definition)
        FROM todoscale_index_definitions() d WHERE d.parent_table = coalesce($1, d.parent_table) ORDER BY d.ord
        """, (object?)parentTable ?? DBNull.Value);

    /// <summary>Adds users with perUser todos each to todos_active (a mix of statuses, due dates and done rows).</summary>
    public static Task AddTodosAsync(NpgsqlConnection conn, int users, int perUser) => ExecuteAsync(conn, """
        WITH u AS (
            INSERT INTO users (id, email)
            SELECT gen_random_uuid(), 'w' || gen_random_uuid() || '@example.com' FROM generate_series(1, $1)
            RETURNING id)
        INSERT INTO todos_active (user_id, title, status, priority, due_date, completed_at)
        SELECT u.id, 'todo ' || g, (ARRAY['todo','in_progress','done','cancelled'])[1 + g % 4], g % 5,
               CASE WHEN g % 3 > 0 THEN now() + g * interval '1 hour' END,
               CASE WHEN g % 4 = 2 THEN now() - g * interval '1 hour' END
        FROM u, generate_series(1, $2) g
        """, users, perUser);

    public static async Task ExecuteAsync(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var sw = Stopwatch.StartNew();
        await action();
        return sw.Elapsed;
    }
}
