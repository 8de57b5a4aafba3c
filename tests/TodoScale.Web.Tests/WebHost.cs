using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TodoScale.Api.Auth;
using TodoScale.Api.Hosting;
using TodoScale.Api.Pages;
using TodoScale.Application.Users;

namespace TodoScale.Web.Tests;

/// <summary>`todoscale serve`'s host in-process on 127.0.0.1 (a free port) over a test database; the browser talks real HTTP to it.</summary>
public sealed class WebHost : IAsyncDisposable
{
    private readonly List<HttpClient> _clients = [];

    private WebHost(WebApplication app, string connectionString, JwtSettings jwt)
    {
        App = app;
        ConnectionString = connectionString;
        Jwt = jwt;
        BaseUrl = TodoScaleApi.ListeningUrls(app).Single();
    }

    public WebApplication App { get; }
    public string ConnectionString { get; }
    public JwtSettings Jwt { get; }
    public string BaseUrl { get; }

    public static async Task<WebHost> StartAsync(string connectionString)
    {
        var jwt = JwtSettings.NewRandom();
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions { ConnectionString = connectionString, Jwt = jwt, Urls = ["http://127.0.0.1:0"] },
            b => b.Logging.ClearProviders());
        await app.StartAsync();
        return new WebHost(app, connectionString, jwt);
    }

    public async Task<(Guid Id, string Email)> NewUserAsync()
    {
        await using var scope = App.Services.CreateAsyncScope();
        var (user, _) = await scope.ServiceProvider.GetRequiredService<UserService>().EnsureUserAsync($"{Guid.NewGuid():N}"[..12] + "@example.com");
        return (user.Id, user.Email);
    }

    public string SignInLink(Guid userId, string email, bool isOperator = false) =>
        SignInCodes.Link(BaseUrl, App.Services.GetRequiredService<SignInCodes>().Issue(userId, email, isOperator));

    public string BearerToken(Guid userId, string email, bool isOperator = false) => new TokenIssuer(Jwt).Issue(userId, email, isOperator);

    /// <summary>A new user signed in on <paramref name="page"/> through a one-time link, on the page it lands on.</summary>
    public async Task<(Guid Id, string Email)> SignInAsync(IPage page, bool isOperator = false)
    {
        var user = await NewUserAsync();
        await page.GotoAsync(SignInLink(user.Id, user.Email, isOperator));
        await Expect(page.Locator("#who")).ToHaveTextAsync(user.Email);
        return user;
    }

    public HttpClient Client(string? bearer = null, HttpMessageHandler? handler = null)
    {
        var client = handler is null ? new HttpClient() : new HttpClient(handler);
        client.BaseAddress = new Uri(BaseUrl);
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        _clients.Add(client);
        return client;
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
