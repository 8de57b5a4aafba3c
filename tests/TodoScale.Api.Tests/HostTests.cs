using System.Text.Json;

namespace TodoScale.Api.Tests;

public sealed class HostTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "host");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Theory(Timeout = TestTimeouts.Database)]
    [InlineData("/health")]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task health_answers_without_a_token_when_the_database_is_reachable(string path)
    {
        var response = await _host.Client().GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_token_minted_by_the_host_for_an_email_is_accepted_and_repeating_it_reuses_the_user()
    {
        var token = await TodoScale.Api.Hosting.TodoScaleApi.CreateUserTokenAsync(_host.App, "demo@example.com");
        var again = await TodoScale.Api.Hosting.TodoScaleApi.CreateUserTokenAsync(_host.App, "demo@example.com", isOperator: true);

        await _host.Client(token).CreateTodoAsync(new { title = "from the demo" });

        Assert.Single((await _host.Client(again).ListAsync()).Items);
        // The second token carries the operator role: the migrated database has maintenance_history, so exactly 200.
        Assert.Equal(HttpStatusCode.OK, (await _host.Client(again).GetAsync("/api/ops/maintenance")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _host.Client(token).GetAsync("/api/ops/maintenance")).StatusCode);
        Assert.Equal(1L, await _host.ScalarAsync<long>("SELECT count(*) FROM users WHERE email = 'demo@example.com'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_openapi_document_describes_the_todo_endpoints_and_the_reference_ui_is_served()
    {
        var client = _host.Client();

        var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement;
        var ui = await client.GetAsync("/scalar");

        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/todos", paths);
        Assert.Contains("/api/todos/{id}/suggest-subtasks", paths);
        Assert.Contains("/api/dashboard", paths);
        var listParameters = doc.GetProperty("paths").GetProperty("/api/todos").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("include_archived", listParameters);
        Assert.Contains("cursor", listParameters);
        Assert.Equal("bearer", doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString());
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Equal("text/html", ui.Content.Headers.ContentType?.MediaType);
    }
}

public sealed class HealthWithoutDatabaseTests
{
    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task readiness_is_503_when_the_database_is_unreachable_while_liveness_stays_200()
    {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        var app = TodoScale.Api.Hosting.TodoScaleApi.Build([], new TodoScale.Api.Hosting.TodoScaleApiOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1;Database=none;Username=none;Timeout=2",
            Jwt = TodoScale.Api.Auth.JwtSettings.NewRandom(),
            Urls = ["http://127.0.0.1:0"],
        }, b => b.Logging.ClearProviders());
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(TodoScale.Api.Hosting.TodoScaleApi.ListeningUrls(app).Single()) };

            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
