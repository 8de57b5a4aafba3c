using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using NpgsqlTypes;

namespace TodoScale.Application.Tests;

/// <summary>
/// The hot-path statements must prune to the user's partition (guide, troubleshooting #2): read their
/// EXPLAIN (FORMAT JSON) with real parameter values and count the todos_active partitions in the plan.
/// Both ways PostgreSQL can plan them are checked: custom plans (an unprepared statement, the default plan
/// cache) prune while planning; the API's prepared statements under plan_cache_mode=force_generic_plan
/// (AppConnection.ForApplication) get one plan for every user and must prune when the executor starts.
/// </summary>
public sealed partial class QueryPlanTests(PostgresServer server)
{
    // One instant for every date parameter; the plans do not depend on it, only the rows the statements read.
    private static readonly DateTime Now = new(2026, 11, 25, 12, 0, 0, DateTimeKind.Utc);

    private static readonly string[] ListAndDashboard =
    [
        nameof(TodoQueries.ListActivePage) + " first page",
        nameof(TodoQueries.ListActivePage) + " by status after a cursor",
        nameof(TodoQueries.DashboardCounts),
        nameof(TodoQueries.DashboardTopOpen),
        nameof(TodoQueries.ProjectsWithCounts),
    ];

    public static TheoryData<string> Statements => new(ListAndDashboard);

    /// <summary>
    /// Every TodoQueries statement that reads todos_active for one user. Not here: ReopenArchived (it only inserts
    /// into todos_active, which routes the row by its user_id), and the statements on todos_archived and
    /// ai_todo_interactions, which are partitioned by month and so cannot prune by user.
    /// </summary>
    public static TheoryData<string> PerUserStatements => new(
    [
        .. ListAndDashboard,
        nameof(TodoQueries.Complete),
        nameof(TodoQueries.ReopenActive),
        nameof(TodoQueries.Update),
        nameof(TodoQueries.DeleteWithSubtasks),
        nameof(TodoQueries.DetachProjectActive),
    ]);

    [Theory(Timeout = TestTimeouts.Database)]
    [MemberData(nameof(Statements))]
    public async Task the_list_and_dashboard_statements_read_exactly_one_partition_of_todos_active(string statement)
    {
        await using var app = await AppDatabase.CreateAsync(server, "plans");
        var seed = await SeedAsync(app);

        var (sql, parameters) = Bind(statement, seed);
        await using var cmd = app.DataSource.CreateCommand("EXPLAIN (FORMAT JSON) " + sql);
        cmd.Parameters.AddRange(parameters);
        var plan = (string)(await cmd.ExecuteScalarAsync())!;

        var partitions = RelationNames(JsonDocument.Parse(plan).RootElement).Where(n => ActivePartition().IsMatch(n)).Distinct().ToList();
        Assert.Equal([seed.UsersPartition], partitions);
    }

    [Theory(Timeout = TestTimeouts.Database)]
    [MemberData(nameof(PerUserStatements))]
    public async Task each_per_user_statement_prepared_with_a_generic_plan_as_the_api_runs_it_prunes_to_the_users_partition_at_run_time(string statement)
    {
        await using var app = await AppDatabase.CreateAsync(server, "genericplans");
        var seed = await SeedAsync(app);
        var (sql, parameters) = Bind(statement, seed);
        await using var conn = await app.DataSource.OpenConnectionAsync();

        // What the API's connections do (AppConnection.ForApplication): force_generic_plan, and every statement prepared with
        // the parameter types the services bind (TodoService, ProjectService, DashboardService). EXECUTE's arguments cannot be
        // bind parameters (the server evaluates them without any), so the test's own values are spelled as literals of those types.
        await Sql.ExecAsync(conn, "SET plan_cache_mode = force_generic_plan");
        await Sql.ExecAsync(conn, $"PREPARE statement_under_test ({string.Join(", ", parameters.Select(ExplainParameters.TypeName))}) AS {sql}");
        var plan = await Sql.ScalarAsync<string>(conn,
            $"EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) EXECUTE statement_under_test ({string.Join(", ", parameters.Select(ExplainParameters.Literal))})");

        var nodes = Nodes(JsonDocument.Parse(plan).RootElement[0].GetProperty("Plan")).ToList();
        // A generic plan holds all 16 partitions under an Append; the executor removes the 15 the user is not in.
        var appends = nodes.Where(n => n.GetProperty("Node Type").GetString() is "Append" or "Merge Append")
            .Select(n => (Node: n, Children: n.TryGetProperty("Plans", out var c) ? c.EnumerateArray().ToList() : []))
            .Where(a => a.Children.Any(c => ActivePartition().IsMatch(ScannedRelation(c) ?? "")))
            .ToList();
        Assert.True(appends.Count > 0, $"no Append over the todos_active partitions, so no run-time pruning: {plan}");
        Assert.All(appends, a =>
        {
            Assert.True(a.Node.TryGetProperty("Subplans Removed", out var removed), $"an Append over todos_active pruned nothing: {plan}");
            Assert.Equal(15, removed.GetInt32());
        });
        var scanned = nodes.Select(ScannedRelation).Where(n => n is not null && ActivePartition().IsMatch(n)).Distinct().ToList();
        Assert.Equal([seed.UsersPartition], scanned);
    }

    private sealed record Seed(Guid User, string UsersPartition, Guid Todo, Guid Project);

    private static async Task<Seed> SeedAsync(AppDatabase app)
    {
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
        var todo = await app.ScalarAsync<Guid>("SELECT id FROM todos_active WHERE user_id = $1 ORDER BY id LIMIT 1", user);
        var project = await app.ScalarAsync<Guid>("INSERT INTO projects (user_id, name) VALUES ($1, 'Work') RETURNING id", user);
        return new Seed(user, usersPartition, todo, project);
    }

    // The parameters as the services bind each statement (same types, same nulls for the options not used).
    private static (string Sql, NpgsqlParameter[] Parameters) Bind(string statement, Seed seed)
    {
        NpgsqlParameter P(object? value, NpgsqlDbType type) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };
        var u = P(seed.User, NpgsqlDbType.Uuid);
        var id = P(seed.Todo, NpgsqlDbType.Uuid);
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
                P(Now.Date.AddDays(-2), NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(5), NpgsqlDbType.TimestampTz),
            ]),
            nameof(TodoQueries.DashboardTopOpen) => (TodoQueries.DashboardTopOpen, [u, P(10, NpgsqlDbType.Integer)]),
            nameof(TodoQueries.ProjectsWithCounts) => (TodoQueries.ProjectsWithCounts, [u]),
            nameof(TodoQueries.Complete) => (TodoQueries.Complete, [u, id, P(Now, NpgsqlDbType.TimestampTz)]),
            nameof(TodoQueries.ReopenActive) => (TodoQueries.ReopenActive, [u, id]),
            nameof(TodoQueries.Update) => (TodoQueries.Update,
            [
                u, id, P("renamed", NpgsqlDbType.Text), P(null, NpgsqlDbType.Text), P(2, NpgsqlDbType.Integer),
                P(Now.AddDays(3), NpgsqlDbType.TimestampTz), P(seed.Project, NpgsqlDbType.Uuid), P("in_progress", NpgsqlDbType.Text),
                P(Now, NpgsqlDbType.TimestampTz),
            ]),
            nameof(TodoQueries.DeleteWithSubtasks) => (TodoQueries.DeleteWithSubtasks, [u, id]),
            nameof(TodoQueries.DetachProjectActive) => (TodoQueries.DetachProjectActive, [u, P(seed.Project, NpgsqlDbType.Uuid)]),
            _ => throw new ArgumentOutOfRangeException(nameof(statement)),
        };
    }


    // The relation a node reads rows from (ModifyTable nodes name their targets too, which are not reads).
    private static string? ScannedRelation(JsonElement node) =>
        node.GetProperty("Node Type").GetString()!.EndsWith("Scan", StringComparison.Ordinal) && node.TryGetProperty("Relation Name", out var r)
            ? r.GetString()
            : null;

    private static IEnumerable<JsonElement> Nodes(JsonElement node)
    {
        yield return node;
        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var n in children.EnumerateArray().SelectMany(Nodes))
            {
                yield return n;
            }
        }
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
