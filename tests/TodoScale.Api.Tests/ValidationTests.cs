using System.Text;
using System.Text.Json;

namespace TodoScale.Api.Tests;

/// <summary>Each kind of bad input is a 400 problem that names the offending field.</summary>
public sealed class ValidationTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "validation");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string, string?, string> BadRequests => new()
    {
        // method, path ({todo} = an existing todo of the caller), JSON body, field named in the errors
        { "POST", "/api/todos", """{"title":""}""", "title" },
        { "POST", "/api/todos", """{"description":"no title"}""", "title" },
        { "POST", "/api/todos", $$"""{"title":"{{new string('x', 501)}}"}""", "title" },
        { "POST", "/api/todos", """{"title":"a","priority":5}""", "priority" },
        { "POST", "/api/todos", """{"title":"a","priority":-1}""", "priority" },
        { "POST", "/api/todos", """{"title":"a","priority":"high"}""", "priority" },
        { "POST", "/api/todos", """{"title":"a","dueDate":"next tuesday"}""", "dueDate" },
        { "POST", "/api/todos", """{"title":"a","parentTodoId":"not-a-uuid"}""", "parentTodoId" },
        { "POST", "/api/todos", """{"title":"a","projectId":"42"}""", "projectId" },
        { "PUT", "/api/todos/{todo}", """{"title":"a","status":"finished"}""", "status" },
        { "PUT", "/api/todos/{todo}", """{"title":"a","dueDate":"2026-13-45"}""", "dueDate" },
        { "PUT", "/api/todos/{todo}", """{"title":"   "}""", "title" },
        { "GET", "/api/todos/not-a-uuid", null, "id" },
        { "DELETE", "/api/todos/123", null, "id" },
        { "POST", "/api/todos/xyz/complete", null, "id" },
        { "GET", "/api/todos?status=finished", null, "status" },
        { "GET", "/api/todos?due_before=yesterday", null, "due_before" },
        { "GET", "/api/todos?due_after=2026-02-30", null, "due_after" },
        { "GET", "/api/todos?project_id=xyz", null, "project_id" },
        { "GET", "/api/todos?includeArchived=true", null, "includeArchived" },
        { "GET", "/api/todos?include_archived=maybe", null, "include_archived" },
        { "GET", "/api/todos?limit=0", null, "limit" },
        { "GET", "/api/todos?limit=1000", null, "limit" },
        { "GET", "/api/todos?cursor=garbage", null, "cursor" },
        { "POST", "/api/projects", """{"name":""}""", "name" },
        { "PUT", "/api/projects/nope", """{"name":"x"}""", "id" },
    };

    [Theory(Timeout = TestTimeouts.Database)]
    [MemberData(nameof(BadRequests))]
    public async Task bad_input_is_a_400_problem_naming_the_field(string method, string path, string? body, string field)
    {
        var (_, client) = await _host.NewUserAsync();
        var todo = await client.CreateTodoAsync(new { title = "existing" });
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{todo}", todo.Id.ToString()));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}' in {text}");
        Assert.NotEqual(0, messages.GetArrayLength());
        // Nothing was written by a refused request.
        Assert.Equal("existing", Assert.Single((await client.ListAsync()).Items).Title);
    }
}
