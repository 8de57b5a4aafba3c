using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using TodoScale.Api.Auth;
using TodoScale.Api.Hosting;

namespace TodoScale.Api.Tests.Replicas;

/// <summary>
/// One API instance on a replicated pair: the primary's connection string plus the standby as ReadReplicas:Hosts, with
/// the diagnostics header on. Two of these on one database are two API hosts that share nothing but the database.
/// </summary>
public sealed class ReplicaApiHost : IAsyncDisposable
{
    private readonly List<HttpClient> _clients = [];

    private ReplicaApiHost(WebApplication app, JwtSettings jwt)
    {
        App = app;
        Jwt = jwt;
        BaseAddress = new Uri(TodoScaleApi.ListeningUrls(app).Single());
    }

    public WebApplication App { get; }
    public JwtSettings Jwt { get; }
    public Uri BaseAddress { get; }

    public static async Task<ReplicaApiHost> StartAsync(ReplicatedServer server, string primaryConnectionString, JwtSettings jwt,
        double maxLagSeconds = 30)
    {
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions { ConnectionString = primaryConnectionString, Jwt = jwt, Urls = ["http://127.0.0.1:0"] }, b =>
        {
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ReadReplicas:Hosts"] = $"127.0.0.1:{server.Standby.Port}",
                ["ReadReplicas:ServedByHeader"] = "true",
                ["ReadReplicas:MaxLagSeconds"] = maxLagSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["ReadReplicas:PollIntervalMs"] = "100",
            });
        });
        await app.StartAsync();
        return new ReplicaApiHost(app, jwt);
    }

    /// <summary>A client for <paramref name="token"/>; no cookies are kept (HttpClient without a cookie container), as many API clients do.</summary>
    public HttpClient Client(string token)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        _clients.Add(client);
        return client;
    }

    /// <summary>A new user (created on the primary) and its token.</summary>
    public async Task<(Guid Id, string Token)> NewUserAsync(bool isOperator = false)
    {
        using var scope = App.Services.CreateScope();
        var (user, _) = await scope.ServiceProvider.GetRequiredService<UserService>().EnsureUserAsync($"{Guid.NewGuid():N}@example.com");
        return (user.Id, new TokenIssuer(Jwt).Issue(user.Id, user.Email, isOperator));
    }

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

internal static class ServedBy
{
    public static string Of(HttpResponseMessage response) =>
        response.Headers.TryGetValues(ReadReplicaHosting.ServedByHeader, out var v) ? string.Join(",", v) : "(no header)";

    /// <summary>GET that must answer 200; returns the body and which node served it.</summary>
    public static async Task<(T Body, string Node)> GetAsync<T>(this HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return (await response.ReadAsync<T>(HttpStatusCode.OK), Of(response));
    }
}
