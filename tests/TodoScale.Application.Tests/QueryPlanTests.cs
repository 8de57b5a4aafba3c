using System.Text.Json;
using System.Text.RegularExpressions;
using NpgsqlTypes;

namespace TodoScale.Application.Tests;

/// <summary>
/// The hot-path statements must prune to the user's partition (guide, troubleshooting #2): read their
/// EXPLAIN (FORMAT JSON) with real parameter values and count the todos_active partitions in the plan.
/// </summary>
public sealed partial class QueryPlanTests(PostgresServer server)
{
    private static readonly DateTime Now = DateTime.UtcNow;

    public static TheoryData<string> Statements => new(
        nameof(TodoQueries.ListActivePage) + " first page",
        nameof(TodoQueries.ListActivePage) + " by status after a cursor",
        nameof(TodoQueries.DashboardCounts),
        nameof(TodoQueries.DashboardTopOpen),
        nameof(TodoQueries.ProjectsWithCounts));

    [Theory]
    [MemberData(nameof(Statements))]
    public async Task the_list_and_dashboard_statements_read_exactly_one_partition_of_todos_active(string statement)
    {
        await using var app = await AppDatabase.CreateAsync(server, "plans");
        // 200 users spread over the 16 partitions, 10 todos each.
        await app.ExecuteAsync("""
            INSERT INTO users (id, email) SELECT gen_random_uuid(), 'user' || g || '@example.com' FROM generate_series(1, 200) g;
            INSERT INTO todos_active (user_id, title, status, priority, due_date, created_at)
            SELECT u.id, 'todo ' || g, (ARRAY['todo', 'in_progress', 'done', 'cancelled'])[1 + g % 4], g % 5,
                   now() + g * interval '1 day', now() - g * interval '1 hour'
            FROM users u, generate_series(1, 10) g;
            ANALYZE todos_active;
            """);
        var user = await app.ScalarAsync<Guid>("SELECT id FROM users ORDER BY email LIMIT 1");
        var usersPartition = await app.ScalarAsync<string>("SELECT tableoid::regclass::text FROM todos_active WHERE user_id = $1 LIMIT 1", user);
        Assert.Equal(16L, await app.ScalarAsync<long>("SELECT count(DISTINCT tableoid) FROM todos_active"));

        var (sql, parameters) = Bind(statement, user);
        await using var cmd = app.DataSource.CreateCommand("EXPLAIN (FORMAT JSON) " + sql);
        cmd.Parameters.AddRange(parameters);
        var plan = (string)(await cmd.ExecuteScalarAsync())!;

        var partitions = RelationNames(JsonDocument.Parse(plan).RootElement).Where(n => ActivePartition().IsMatch(n)).Distinct().ToList();
        Assert.Equal([usersPartition], partitions);
    }

    private static (string Sql, NpgsqlParameter[] Parameters) Bind(string statement, Guid user)
    {
        NpgsqlParameter P(object? value, NpgsqlDbType type) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };
        var u = P(user, NpgsqlDbType.Uuid);
        return statement switch
        {
            "ListActivePage first page" => (TodoQueries.ListActivePage,
            [
                u, P(null, NpgsqlDbType.Text), P(null, NpgsqlDbType.Uuid), P(null, NpgsqlDbType.TimestampTz), P(null, NpgsqlDbType.TimestampTz),
                P(null, NpgsqlDbType.Integer), P(null, NpgsqlDbType.TimestampTz), P(null, NpgsqlDbType.Uuid), P(51, NpgsqlDbType.Integer),
            ]),
            "ListActivePage by status after a cursor" => (TodoQueries.ListActivePage,
            [
                u, P("todo", NpgsqlDbType.Text), P(null, NpgsqlDbType.Uuid), P(Now.AddDays(20), NpgsqlDbType.TimestampTz), P(null, NpgsqlDbType.TimestampTz),
                P(3, NpgsqlDbType.Integer), P(Now, NpgsqlDbType.TimestampTz), P(Guid.NewGuid(), NpgsqlDbType.Uuid), P(21, NpgsqlDbType.Integer),
            ]),
            nameof(TodoQueries.DashboardCounts) => (TodoQueries.DashboardCounts,
            [
                u, P(Now, NpgsqlDbType.TimestampTz), P(Now.Date, NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(1), NpgsqlDbType.TimestampTz),
                P(Now.Date.AddDays(-3), NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(4), NpgsqlDbType.TimestampTz),
            ]),
            nameof(TodoQueries.DashboardTopOpen) => (TodoQueries.DashboardTopOpen, [u, P(10, NpgsqlDbType.Integer)]),
            nameof(TodoQueries.ProjectsWithCounts) => (TodoQueries.ProjectsWithCounts, [u]),
            _ => throw new ArgumentOutOfRangeException(nameof(statement)),
        };
    }

    private static IEnumerable<string> RelationNames(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                if (p.Name == "Relation Name" && p.Value.ValueKind == JsonValueKind.String)
                {
                    yield return p.Value.GetString()!;
                }

                foreach (var n in RelationNames(p.Value))
                {
                    yield return n;
                }
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var n in e.EnumerateArray().SelectMany(RelationNames))
            {
                yield return n;
            }
        }
    }

    [GeneratedRegex(@"^todos_active_part_\d+$")]
    private static partial Regex ActivePartition();
}
