namespace TodoScale.Api.Tests;

/// <summary>A user never sees, changes or learns of another user's todos, projects or interactions: all 404.</summary>
public class CrossUserTests(PostgresServer server) : IAsyncLifetime
{
    private readonly FakeChatClient _chat = new("[\"one\", \"two\"]");
    private ApiHost _host = null!;

    /// <summary>The class's host, for subclasses that add tests of their own backend.</summary>
    protected ApiHost Host => _host;

    public async ValueTask InitializeAsync() =>
        _host = await StartHostAsync(b => b.Services.AddSingleton<Microsoft.Extensions.AI.IChatClient>(_chat));

    /// <summary>The API under test; Citus.CitusCrossUserTests runs these tests on a distributed database.</summary>
    protected virtual Task<ApiHost> StartHostAsync(Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder> configure) =>
        ApiHost.StartAsync(server, "crossuser", configure);

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task every_endpoint_that_takes_an_id_answers_404_for_another_users_todo_or_project_and_changes_nothing()
    {
        var (aliceId, alice) = await _host.NewUserAsync();
        var (_, bob) = await _host.NewUserAsync();
        var project = await (await alice.PostAsJsonAsync("/api/projects", new { name = "Alice's" })).ReadAsync<ProjectView>(HttpStatusCode.Created);
        var todo = await alice.CreateTodoAsync(new { title = "Alice's todo", priority = 1, projectId = project.Id });
        var old = await alice.CreateTodoAsync(new { title = "Alice's archived todo" });
        await alice.PostAsync($"/api/todos/{old.Id}/complete", null);
        await _host.ArchiveAsync(aliceId, old.Id);

        foreach (var id in new[] { todo.Id, old.Id })
        {
            var requests = new (string Name, Func<Task<HttpResponseMessage>> Send)[]
            {
                ("GET todo", () => bob.GetAsync($"/api/todos/{id}")),
                ("PUT todo", () => bob.PutAsJsonAsync($"/api/todos/{id}", new { title = "Bob was here" })),
                ("POST complete", () => bob.PostAsync($"/api/todos/{id}/complete", null)),
                ("POST reopen", () => bob.PostAsync($"/api/todos/{id}/reopen", null)),
                ("GET subtasks", () => bob.GetAsync($"/api/todos/{id}/subtasks")),
                ("POST suggest-subtasks", () => bob.PostAsync($"/api/todos/{id}/suggest-subtasks", null)),
                ("GET ai-interactions", () => bob.GetAsync($"/api/todos/{id}/ai-interactions")),
                ("POST ai-interactions", () => bob.PostAsJsonAsync($"/api/todos/{id}/ai-interactions", new { interactionType = "chat" })),
                ("POST subtask under it", () => bob.PostAsJsonAsync("/api/todos", new { title = "child", parentTodoId = id })),
                ("DELETE todo", () => bob.DeleteAsync($"/api/todos/{id}")),
            };
            foreach (var (name, send) in requests)
            {
                var response = await send();
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{name} on {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }

        foreach (var (name, send) in new (string, Func<Task<HttpResponseMessage>>)[]
                 {
                     ("POST todo in project", () => bob.PostAsJsonAsync("/api/todos", new { title = "x", projectId = project.Id })),
                     ("PUT project", () => bob.PutAsJsonAsync($"/api/projects/{project.Id}", new { name = "Bob's now" })),
                     ("DELETE project", () => bob.DeleteAsync($"/api/projects/{project.Id}")),
                 })
        {
            var response = await send();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{name}: {(int)response.StatusCode}");
        }

        // Bob's lists show none of it; Alice's data is exactly as she left it.
        Assert.Empty((await bob.ListAsync("?include_archived=true")).Items);
        Assert.Empty((await bob.ListAsync($"?project_id={project.Id}")).Items);
        Assert.Empty(await (await bob.GetAsync("/api/projects")).ReadAsync<List<ProjectView>>(HttpStatusCode.OK));
        var bobsDashboard = await (await bob.GetAsync("/api/dashboard")).ReadAsync<Dashboard>(HttpStatusCode.OK);
        Assert.Equal(new StatusCounts(0, 0, 0, 0), bobsDashboard.ByStatus);
        var after = await (await alice.GetAsync($"/api/todos/{todo.Id}")).ReadAsync<TodoView>(HttpStatusCode.OK);
        Assert.Equal(("Alice's todo", "todo", project.Id), (after.Title, after.Status, after.ProjectId));
        Assert.True((await (await alice.GetAsync($"/api/todos/{old.Id}")).ReadAsync<TodoView>(HttpStatusCode.OK)).Archived);
        Assert.Equal("Alice's", Assert.Single(await (await alice.GetAsync("/api/projects")).ReadAsync<List<ProjectView>>(HttpStatusCode.OK)).Name);
        Assert.Equal(2L, await _host.ScalarAsync<long>("SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));
        Assert.Equal(0L, await _host.ScalarAsync<long>("SELECT count(*) FROM ai_todo_interactions"));
        Assert.Equal(0, _chat.Calls);
    }
}
