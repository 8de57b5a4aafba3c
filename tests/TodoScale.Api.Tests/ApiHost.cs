using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TodoScale.Api.Auth;
using TodoScale.Api.Hosting;

namespace TodoScale.Api.Tests;

/// <summary>The real API on Kestrel (127.0.0.1, a free port) over a fresh migrated database; clients talk real HTTP.</summary>
public sealed class ApiHost : IAsyncDisposable
{
    private readonly List<HttpClient> _clients = [];

    private ApiHost(WebApplication app, string connectionString, JwtSettings jwt)
    {
        App = app;
        ConnectionString = connectionString;
        Jwt = jwt;
        BaseAddress = new Uri(TodoScaleApi.ListeningUrls(app).Single());
    }

    public WebApplication App { get; }
    public string ConnectionString { get; }
    public JwtSettings Jwt { get; }
    public Uri BaseAddress { get; }

    public static async Task<ApiHost> StartAsync(PostgresServer server, string prefix, Action<WebApplicationBuilder>? configure = null) =>
        await StartOnAsync(await server.CreateMigratedDatabaseAsync(prefix), configure);

    /// <summary>The API on a database the caller prepared (a distributed Citus database, for the Citus subclasses).</summary>
    public static async Task<ApiHost> StartOnAsync(string cs, Action<WebApplicationBuilder>? configure = null)
    {
        var jwt = JwtSettings.NewRandom();
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions { ConnectionString = cs, Jwt = jwt, Urls = ["http://127.0.0.1:0"] }, b =>
        {
            b.Logging.ClearProviders();
            configure?.Invoke(b);
        });
        await app.StartAsync();
        return new ApiHost(app, cs, jwt);
    }

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        _clients.Add(client);
        return client;
    }

    /// <summary>A new user in the database and a client that carries its token.</summary>
    public async Task<(Guid Id, HttpClient Client)> NewUserAsync(bool isOperator = false)
    {
        using var scope = App.Services.CreateScope();
        var (user, _) = await scope.ServiceProvider.GetRequiredService<UserService>().EnsureUserAsync($"{Guid.NewGuid():N}@example.com");
        return (user.Id, Client(new TokenIssuer(Jwt).Issue(user.Id, user.Email, isOperator)));
    }

    public Task<T> ScalarAsync<T>(string sql, params object[] parameters) => Sql.ScalarAsync<T>(ConnectionString, sql, parameters);

    public Task ExecuteAsync(string sql, params object[] parameters) => Sql.ExecAsync(ConnectionString, sql, parameters);

    public Task ArchiveAsync(Guid userId, Guid id) => TestArchive.ArchiveTodoAsync(ConnectionString, userId, id);

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _clients)
        {
            c.Dispose();
        }

        await App.StopAsync();
        await App.DisposeAsync();
    }
}

internal static class HttpAssertions
{
    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return System.Text.Json.JsonSerializer.Deserialize<T>(body, System.Text.Json.JsonSerializerOptions.Web)!;
    }

    public static async Task<TodoView> CreateTodoAsync(this HttpClient client, object body) =>
        await (await client.PostAsJsonAsync("/api/todos", body)).ReadAsync<TodoView>(HttpStatusCode.Created);

    public static async Task<TodoPage> ListAsync(this HttpClient client, string query = "") =>
        await (await client.GetAsync("/api/todos" + query)).ReadAsync<TodoPage>(HttpStatusCode.OK);
}
