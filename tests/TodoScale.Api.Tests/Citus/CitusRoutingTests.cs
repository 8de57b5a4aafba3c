using System.Globalization;
using System.Text.RegularExpressions;
using NpgsqlTypes;
using TodoScale.Api.Hosting;
using TodoScale.Application.Data;

namespace TodoScale.Api.Tests.Citus;

/// <summary>
/// On a distributed database every per-user statement of TodoQueries runs on the one worker holding the user: the
/// coordinator's EXPLAIN shows "Task Count: 1". Prepared on a connection of the API's own data source
/// (AppConnection.CreateDataSource: on Citus plan_cache_mode=auto, because Citus cannot route a generic plan of a
/// statement that nests or joins tables on an unbound $1), and executed more often than PostgreSQL's five custom
/// plans before it would consider a generic one, as a pooled API connection does.
/// </summary>
public sealed partial class CitusRoutingTests(CitusServer citus)
{
    private static readonly DateTime Now = new(2026, 11, 25, 12, 0, 0, DateTimeKind.Utc);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task every_per_user_statement_as_the_api_prepares_it_runs_as_one_task_on_one_worker()
    {
        var cs = await DistributedDatabase.CreateAsync(citus, "citusrouting");
        await Sql.ExecAsync(cs, """
            INSERT INTO users (email) SELECT 'r' || g || '@example.com' FROM generate_series(1, 40) g;
            INSERT INTO projects (user_id, name) SELECT id, 'Work' FROM users;
            INSERT INTO todos_active (user_id, title, status, priority, due_date, parent_todo_id)
            SELECT u.id, 't' || g, (ARRAY['todo', 'in_progress', 'done', 'cancelled'])[1 + g % 4], g % 5, now() + g * interval '1 day', NULL
            FROM users u, generate_series(1, 10) g;
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), id, 'a', 'done', 1, now(), now(), now() FROM users;
            INSERT INTO ai_todo_interactions (user_id, interaction_type) SELECT id, 'suggest' FROM users;
            """);
        var user = await Sql.ScalarAsync<Guid>(cs, "SELECT id FROM users ORDER BY email LIMIT 1");
        var todo = await Sql.ScalarAsync<Guid>(cs, "SELECT id FROM todos_active WHERE user_id = $1 ORDER BY id LIMIT 1", user);
        var project = await Sql.ScalarAsync<Guid>(cs, "SELECT id FROM projects WHERE user_id = $1", user);
        var archived = await Sql.ScalarAsync<Guid>(cs, "SELECT id FROM todos_archived WHERE user_id = $1 LIMIT 1", user);

        await using var dataSource = AppConnection.CreateDataSource(cs);
        await using var conn = await dataSource.OpenConnectionAsync();
        Assert.Equal("auto", await Sql.ScalarAsync<string>(conn, "SHOW plan_cache_mode"));
        var failures = new List<string>();
        foreach (var (name, sql, parameters) in Statements(user, todo, project, archived))
        {
            var prepared = "s_" + name.ToLowerInvariant();
            await Sql.ExecAsync(conn, $"PREPARE {prepared} ({string.Join(", ", parameters.Select(ExplainParameters.TypeName))}) AS {sql}");
            var arguments = string.Join(", ", parameters.Select(ExplainParameters.Literal));
            // Reads only: running a write would change the rows the next statements are explained on.
            if (sql.TrimStart().StartsWith("SELECT", StringComparison.Ordinal))
            {
                for (var i = 0; i < 7; i++)
                {
                    await Sql.ExecAsync(conn, $"EXECUTE {prepared} ({arguments})");
                }
            }

            var plan = sql.Contains(" todoscale_archived_", StringComparison.Ordinal)
                ? await NestedPlansAsync(conn, prepared, arguments)
                : await PlanAsync(conn, name, sql, prepared, arguments, parameters);

            var tasks = TaskCount().Matches(plan).Select(m => m.Groups[1].Value).ToList();
            if (tasks.Count == 0 || tasks.Any(t => t != "1"))
            {
                failures.Add($"{name}: Task Count {string.Join("/", tasks.DefaultIfEmpty("none"))}\n{plan}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    private static async Task<string> PlanAsync(NpgsqlConnection conn, string name, string sql, string prepared, string arguments, NpgsqlParameter[] parameters)
    {
        try
        {
            return string.Join("\n", await Sql.ColumnAsync<string>(conn, $"EXPLAIN EXECUTE {prepared} ({arguments})"));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.FeatureNotSupported && name == nameof(TodoQueries.ReopenArchived))
        {
            // Citus cannot EXPLAIN EXECUTE a prepared INSERT ... SELECT with parameters (it runs it: the API's reopen
            // works). A custom plan is the statement with the values in place: explain that.
            var literal = Parameter().Replace(sql, m => ExplainParameters.Literal(parameters[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) - 1]));
            return string.Join("\n", await Sql.ColumnAsync<string>(conn, $"EXPLAIN {literal}"));
        }
    }

    // The archive's statements call the functions of 009: the coordinator runs the call, and the function's own
    // statements on todos_archived are the ones routed. Citus logs every command it sends to a worker
    // (citus.log_remote_commands, to this client at client_min_messages = log): one command on a shard of
    // todos_archived is one task on one worker. Written as a Task Count, so the check below reads it as it reads plans.
    private static async Task<string> NestedPlansAsync(NpgsqlConnection conn, string prepared, string arguments)
    {
        var commands = new List<string>();
        void OnNotice(object? sender, NpgsqlNoticeEventArgs e)
        {
            if (e.Notice.MessageText.StartsWith("issuing", StringComparison.Ordinal) && e.Notice.MessageText.Contains("todos_archived_", StringComparison.Ordinal))
            {
                commands.Add($"{e.Notice.MessageText} ({e.Notice.Detail})");
            }
        }

        conn.Notice += OnNotice;
        try
        {
            await Sql.ExecAsync(conn, "SET citus.log_remote_commands = on; SET client_min_messages = log");
            await Sql.ExecAsync(conn, $"EXECUTE {prepared} ({arguments})");
            await Sql.ExecAsync(conn, "RESET citus.log_remote_commands; RESET client_min_messages");
        }
        finally
        {
            conn.Notice -= OnNotice;
        }

        return commands.Count == 0 ? "no command on todos_archived" : $"Task Count: {commands.Count}\n" + string.Join("\n", commands);
    }

    [GeneratedRegex(@"Task Count: (\d+)")]
    private static partial Regex TaskCount();

    [GeneratedRegex(@"\$(\d+)\b")]
    private static partial Regex Parameter();

    // Every TodoQueries statement, bound as the services bind it (types and nulls).
    private static IEnumerable<(string Name, string Sql, NpgsqlParameter[] Parameters)> Statements(Guid user, Guid todo, Guid project, Guid archived)
    {
        var u = P(user, NpgsqlDbType.Uuid);
        var id = P(todo, NpgsqlDbType.Uuid);
        var noText = P(null, NpgsqlDbType.Text);
        var noUuid = P(null, NpgsqlDbType.Uuid);
        var noTime = P(null, NpgsqlDbType.TimestampTz);
        yield return (nameof(TodoQueries.ListActivePage), TodoQueries.ListActivePage,
            [u, noText, noUuid, noTime, noTime, P(null, NpgsqlDbType.Integer), noTime, noUuid, P(51, NpgsqlDbType.Integer)]);
        yield return (nameof(TodoQueries.ListArchivedPage), TodoQueries.ListArchivedPage,
            [u, noText, noUuid, noTime, noTime, noTime, noUuid, P(51, NpgsqlDbType.Integer)]);
        yield return (nameof(TodoQueries.ArchivedById), TodoQueries.ArchivedById, [u, P(archived, NpgsqlDbType.Uuid)]);
        yield return (nameof(TodoQueries.ArchivedCompletedCount), TodoQueries.ArchivedCompletedCount,
            [u, P(Now.Date.AddDays(-2), NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(5), NpgsqlDbType.TimestampTz)]);
        yield return (nameof(TodoQueries.DashboardTopOpen), TodoQueries.DashboardTopOpen, [u, P(10, NpgsqlDbType.Integer)]);
        yield return (nameof(TodoQueries.DashboardCounts), TodoQueries.DashboardCounts,
        [
            u, P(Now, NpgsqlDbType.TimestampTz), P(Now.Date, NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(1), NpgsqlDbType.TimestampTz),
            P(Now.Date.AddDays(-2), NpgsqlDbType.TimestampTz), P(Now.Date.AddDays(5), NpgsqlDbType.TimestampTz),
        ]);
        yield return (nameof(TodoQueries.ProjectsWithCounts), TodoQueries.ProjectsWithCounts, [u]);
        yield return (nameof(TodoQueries.RecentAiInteractions), TodoQueries.RecentAiInteractions, [u, P(5, NpgsqlDbType.Integer)]);
        yield return (nameof(TodoQueries.Complete), TodoQueries.Complete, [u, id, P(Now, NpgsqlDbType.TimestampTz)]);
        yield return (nameof(TodoQueries.ReopenActive), TodoQueries.ReopenActive, [u, id]);
        yield return (nameof(TodoQueries.ReopenArchived), TodoQueries.ReopenArchived, [u, id]);
        yield return (nameof(TodoQueries.Update), TodoQueries.Update,
        [
            u, id, P("renamed", NpgsqlDbType.Text), noText, P(2, NpgsqlDbType.Integer), P(Now, NpgsqlDbType.TimestampTz),
            P(project, NpgsqlDbType.Uuid), P("in_progress", NpgsqlDbType.Text), P(Now, NpgsqlDbType.TimestampTz),
        ]);
        yield return (nameof(TodoQueries.DeleteWithSubtasks), TodoQueries.DeleteWithSubtasks, [u, id]);
        yield return (nameof(TodoQueries.DetachProjectActive), TodoQueries.DetachProjectActive, [u, P(project, NpgsqlDbType.Uuid)]);
        yield return (nameof(TodoQueries.DetachProjectArchived), TodoQueries.DetachProjectArchived, [u, P(project, NpgsqlDbType.Uuid)]);
    }

    private static NpgsqlParameter P(object? value, NpgsqlDbType type) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };

}
