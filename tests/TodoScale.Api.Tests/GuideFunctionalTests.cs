namespace TodoScale.Api.Tests;

/// <summary>The guide's "Functional Testing" script, end to end through HTTP, with the real archive function.</summary>
public class GuideFunctionalTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await StartHostAsync();

    /// <summary>The API under test; Citus.CitusGuideFunctionalTests runs these tests on a distributed database.</summary>
    protected virtual Task<ApiHost> StartHostAsync() => ApiHost.StartAsync(server, "guide");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_is_created_listed_completed_archived_listed_with_include_archived_and_reopened_into_active()
    {
        var (userId, client) = await _host.NewUserAsync();

        // todo = await service.create_todo(todo_data, user_id)
        var todo = await client.CreateTodoAsync(new { title = "Partitioned todo", priority = 2 });
        Assert.NotEqual(Guid.Empty, todo.Id);

        // active_todos = await service.get_user_todos(user_id, include_archived=False); len == 1
        var active = await client.ListAsync();
        Assert.Equal(todo.Id, Assert.Single(active.Items).Id);

        // await service.complete_todo(todo.id, user_id); await archive_completed_todos(0)
        var completed = await (await client.PostAsync($"/api/todos/{todo.Id}/complete", null)).ReadAsync<TodoView>(HttpStatusCode.OK);
        Assert.Equal("done", completed.Status);
        Assert.NotNull(completed.CompletedAt);
        var archivedCount = await _host.ScalarAsync<long>("SELECT archive_completed_todos(0)");
        Assert.True(archivedCount >= 1, $"archive_completed_todos(0) archived {archivedCount} rows");

        // archived_todos = await service.get_user_todos(user_id, include_archived=True); any(t.id == todo.id)
        var withArchived = await client.ListAsync("?include_archived=true");
        var archived = Assert.Single(withArchived.Items, t => t.Id == todo.Id);
        Assert.True(archived.Archived);
        Assert.Empty((await client.ListAsync()).Items);
        Assert.Equal(1L, await _host.ScalarAsync<long>("SELECT count(*) FROM todos_archived WHERE user_id = $1 AND id = $2", userId, todo.Id));

        // Reopen brings it back to the active table.
        var reopened = await (await client.PostAsync($"/api/todos/{todo.Id}/reopen", null)).ReadAsync<TodoView>(HttpStatusCode.OK);
        Assert.False(reopened.Archived);
        Assert.Equal("todo", reopened.Status);
        Assert.Equal(todo.Id, Assert.Single((await client.ListAsync()).Items).Id);
        Assert.Equal(1L, await _host.ScalarAsync<long>("SELECT count(*) FROM todos_active WHERE user_id = $1 AND id = $2", userId, todo.Id));
        Assert.Equal(0L, await _host.ScalarAsync<long>("SELECT count(*) FROM todos_archived WHERE id = $1", todo.Id));
    }
}
