using System.Diagnostics;
using TodoScale.Api.Auth;

namespace TodoScale.Api.Tests.Replicas;

/// <summary>
/// The API on a real primary and streaming standby: reads go to the standby, writes to the primary, a user always reads
/// their own writes (through any API instance), and a standby that lags or goes away costs no request.
/// </summary>
public sealed class ReadReplicaRoutingTests(ReplicatedServer server) : IClassFixture<ReplicatedServer>, IAsyncLifetime
{
    private string _db = "";

    public async ValueTask InitializeAsync()
    {
        _db = await server.SharedDatabaseAsync("replica_api");
        await server.RestoreAsync();
    }

    // Whatever a test did to the standby (paused, stopped), the next one starts from a running, caught-up standby.
    public async ValueTask DisposeAsync() => await server.RestoreAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task reads_are_served_by_the_standby_and_writes_by_the_primary()
    {
        await using var api = await ReplicaApiHost.StartAsync(server, _db, JwtSettings.NewRandom());
        var (_, aliceToken) = await api.NewUserAsync();
        var alice = api.Client(aliceToken);
        using var created = await alice.PostAsJsonAsync("/api/todos", new { title = "written on the primary", priority = 2 });
        var todo = await created.ReadAsync<TodoView>(HttpStatusCode.Created);
        var project = await (await alice.PostAsJsonAsync("/api/projects", new { name = "Home" })).ReadAsync<ProjectView>(HttpStatusCode.Created);
        await server.WaitForCatchUpAsync();
        await Eventually(async () => (await alice.GetAsync<TodoPage>("/api/todos")).Node == "standby");

        var list = await alice.GetAsync<TodoPage>("/api/todos");
        var get = await alice.GetAsync<TodoView>($"/api/todos/{todo.Id}");
        var subtasks = await alice.GetAsync<List<TodoView>>($"/api/todos/{todo.Id}/subtasks");
        var projects = await alice.GetAsync<List<ProjectView>>("/api/projects");
        var dashboard = await alice.GetAsync<Dashboard>("/api/dashboard");
        var interactions = await alice.GetAsync<List<AiInteractionView>>($"/api/todos/{todo.Id}/ai-interactions");

        Assert.Equal("primary", ServedBy.Of(created));
        Assert.Equal(["standby", "standby", "standby", "standby", "standby", "standby"],
            [list.Node, get.Node, subtasks.Node, projects.Node, dashboard.Node, interactions.Node]);
        Assert.Equal([todo.Id], list.Body.Items.Select(t => t.Id));
        Assert.Equal("written on the primary", get.Body.Title);
        Assert.Equal([project.Id], projects.Body.Select(p => p.Id));
        Assert.Equal(1, dashboard.Body.ByStatus.Todo);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_standby_read_really_comes_from_the_standby_so_a_user_without_writes_sees_what_it_has_replayed()
    {
        await using var api = await ReplicaApiHost.StartAsync(server, _db, JwtSettings.NewRandom());
        var (bobId, bobToken) = await api.NewUserAsync();
        var bob = api.Client(bobToken);
        await server.WaitForCatchUpAsync();
        await Eventually(async () => (await bob.GetAsync<TodoPage>("/api/todos")).Node == "standby");

        await server.PauseReplayAsync();
        // Written behind the API's back (no read fence for bob): the primary has it, the paused standby does not.
        await Sql.ExecAsync(_db, "INSERT INTO todos_active (user_id, title) VALUES ($1, 'written directly on the primary')", bobId);
        var whilePaused = await bob.GetAsync<TodoPage>("/api/todos");
        await server.ResumeReplayAsync();
        await server.WaitForCatchUpAsync();
        var replayed = await Eventually(async () => await bob.GetAsync<TodoPage>("/api/todos"), r => r.Body.Items.Count == 1);

        Assert.Equal("standby", whilePaused.Node);
        Assert.Empty(whilePaused.Body.Items);
        Assert.Equal("standby", replayed.Node);
        Assert.Equal("written directly on the primary", Assert.Single(replayed.Body.Items).Title);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task with_replay_paused_a_user_reads_their_own_write_at_once_through_either_instance_while_others_stay_on_the_standby()
    {
        var jwt = JwtSettings.NewRandom();
        await using var one = await ReplicaApiHost.StartAsync(server, _db, jwt);
        await using var two = await ReplicaApiHost.StartAsync(server, _db, jwt);
        var (_, aliceToken) = await one.NewUserAsync();
        var (_, bobToken) = await one.NewUserAsync();
        var (aliceOnOne, aliceOnTwo) = (one.Client(aliceToken), two.Client(aliceToken));
        var (bobOnOne, bobOnTwo) = (one.Client(bobToken), two.Client(bobToken));
        await server.WaitForCatchUpAsync();
        await Eventually(async () => (await bobOnOne.GetAsync<TodoPage>("/api/todos")).Node == "standby"
                                     && (await bobOnTwo.GetAsync<TodoPage>("/api/todos")).Node == "standby");

        await server.PauseReplayAsync();
        var todo = await aliceOnOne.CreateTodoAsync(new { title = "mine, just now" });
        var listOnOne = await aliceOnOne.GetAsync<TodoPage>("/api/todos");
        var listOnTwo = await aliceOnTwo.GetAsync<TodoPage>("/api/todos");
        var getOnTwo = await aliceOnTwo.GetAsync<TodoView>($"/api/todos/{todo.Id}");
        using var completed = await aliceOnTwo.PostAsync($"/api/todos/{todo.Id}/complete", null);
        await completed.ReadAsync<TodoView>(HttpStatusCode.OK);
        var afterCompleteOnOne = await aliceOnOne.GetAsync<TodoView>($"/api/todos/{todo.Id}");
        var doneOnOne = await aliceOnOne.GetAsync<TodoPage>("/api/todos?status=done");
        var bobReads = new[] { (await bobOnOne.GetAsync<TodoPage>("/api/todos")).Node, (await bobOnTwo.GetAsync<Dashboard>("/api/dashboard")).Node };
        var onStandby = await Sql.ScalarAsync<long>(server.StandbyConnectionString(ReplicatedServer.DatabaseOf(_db)),
            "SELECT count(*) FROM todos_active WHERE id = $1", todo.Id);

        Assert.Equal(0, onStandby); // the standby really lacks the todo: only the routing made the reads below see it
        Assert.Equal([todo.Id], listOnOne.Body.Items.Select(t => t.Id));
        Assert.Equal([todo.Id], listOnTwo.Body.Items.Select(t => t.Id));
        Assert.Equal("mine, just now", getOnTwo.Body.Title);
        Assert.Equal(["primary", "primary", "primary", "primary", "primary"],
            [listOnOne.Node, listOnTwo.Node, getOnTwo.Node, afterCompleteOnOne.Node, doneOnOne.Node]);
        Assert.Equal("done", afterCompleteOnOne.Body.Status);
        Assert.Equal([todo.Id], doneOnOne.Body.Items.Select(t => t.Id));
        Assert.Equal(["standby", "standby"], bobReads);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_standby_lagging_beyond_the_bound_gets_no_reads_until_it_has_caught_up()
    {
        await using var api = await ReplicaApiHost.StartAsync(server, _db, JwtSettings.NewRandom(), maxLagSeconds: 1);
        var (_, bobToken) = await api.NewUserAsync();
        var (carolId, _) = await api.NewUserAsync();
        var (_, opsToken) = await api.NewUserAsync(isOperator: true);
        var (bob, ops) = (api.Client(bobToken), api.Client(opsToken));
        await server.WaitForCatchUpAsync();
        await Eventually(async () => (await bob.GetAsync<TodoPage>("/api/todos")).Node == "standby");

        await server.PauseReplayAsync();
        var paused = Stopwatch.StartNew();
        // Someone else's write moves the primary on; the paused standby falls behind by wall-clock time from here.
        await Sql.ExecAsync(_db, "INSERT INTO todos_active (user_id, title) VALUES ($1, 'moves the primary on')", carolId);
        var firstRightAway = (await bob.GetAsync<TodoPage>("/api/todos")).Node;
        await Eventually(async () => (await bob.GetAsync<TodoPage>("/api/todos")).Node == "primary");
        var takenOutAfter = paused.Elapsed;
        var view = await ops.GetAsync<System.Text.Json.JsonElement>("/api/ops/replication");
        await server.ResumeReplayAsync();
        await Eventually(async () => (await bob.GetAsync<TodoPage>("/api/todos")).Node == "standby");

        Assert.Equal("standby", firstRightAway);
        Assert.True(takenOutAfter >= TimeSpan.FromSeconds(0.9), $"taken out after {takenOutAfter}, before the 1 s bound");
        var routing = Assert.Single(view.Body.GetProperty("routing").EnumerateArray());
        Assert.False(routing.GetProperty("servesReads").GetBoolean());
        Assert.True(routing.GetProperty("replayPaused").GetBoolean());
        Assert.True(routing.GetProperty("lagSeconds").GetDouble() > 1);
        var primaryView = Assert.Single(view.Body.GetProperty("primary").EnumerateArray());
        Assert.Equal("standby-1", primaryView.GetProperty("standby").GetString());
        Assert.True(primaryView.GetProperty("replay_lag_bytes").GetDecimal() > 0);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task stopping_the_standby_during_a_request_loop_fails_no_request()
    {
        await using var api = await ReplicaApiHost.StartAsync(server, _db, JwtSettings.NewRandom());
        var users = new List<(HttpClient Client, Guid TodoId)>();
        for (var i = 0; i < 4; i++)
        {
            var (_, token) = await api.NewUserAsync();
            var client = api.Client(token);
            users.Add((client, (await client.CreateTodoAsync(new { title = $"todo {i}" })).Id));
        }

        await server.WaitForCatchUpAsync();
        await Eventually(async () => (await users[0].Client.GetAsync<TodoPage>("/api/todos")).Node == "standby");
        var results = new System.Collections.Concurrent.ConcurrentBag<(DateTime At, HttpStatusCode Status, string Node, bool HasTodo)>();
        using var stop = new CancellationTokenSource();
        var loops = users.Select(u => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // The time a request was sent: one sent before the standby went down may still be answered by it.
                var sent = DateTime.UtcNow;
                using var response = await u.Client.GetAsync("/api/todos");
                var body = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<TodoPage>() : null;
                results.Add((sent, response.StatusCode, ServedBy.Of(response), body?.Items.Any(t => t.Id == u.TodoId) == true));
                sent = DateTime.UtcNow;
                using var dash = await u.Client.GetAsync("/api/dashboard");
                results.Add((sent, dash.StatusCode, ServedBy.Of(dash), dash.StatusCode == HttpStatusCode.OK));
            }
        })).ToList();

        await Task.Delay(800);
        var stoppingAt = DateTime.UtcNow;
        // pg_ctl stop -m fast: ends the standby's sessions (in-flight reads fail with 57P01) and waits for it to be gone.
        await server.StopStandbyAsync();
        var stoppedAt = DateTime.UtcNow;
        await Task.Delay(1200);
        await stop.CancelAsync();
        await Task.WhenAll(loops);

        var failed = results.Where(r => r.Status != HttpStatusCode.OK || !r.HasTodo).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {results.Count} requests failed or missed the todo: {string.Join(", ", failed.Take(5))}");
        Assert.Contains(results, r => r.At < stoppingAt && r.Node == "standby");
        Assert.Contains(results, r => r.At > stoppedAt && r.Node == "primary");
        Assert.DoesNotContain(results, r => r.At > stoppedAt && r.Node == "standby");

        await server.StartStandbyAsync();
        await Eventually(async () => (await users[0].Client.GetAsync<TodoPage>("/api/todos")).Node == "standby");
    }

    private static async Task Eventually(Func<Task<bool>> condition, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s");
            await Task.Delay(50);
        }
    }

    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> condition, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (condition(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s: last {value}");
            await Task.Delay(50);
        }
    }
}
