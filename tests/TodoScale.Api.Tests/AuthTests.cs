using System.Net.Http.Headers;
using System.Text.Json;
using TodoScale.Api.Auth;

namespace TodoScale.Api.Tests;

public sealed class AuthTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "auth");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_valid_token_is_accepted_and_no_token_is_401()
    {
        var (_, client) = await _host.NewUserAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/todos")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client().GetAsync("/api/todos")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client().PostAsJsonAsync("/api/todos", new { title = "x" })).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_forged_token_is_401()
    {
        var (userId, _) = await _host.NewUserAsync();
        // Same issuer and audience, signed with a key the server does not have.
        var forged = new TokenIssuer(JwtSettings.NewRandom()).Issue(userId, isOperator: true);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client(forged).GetAsync("/api/todos")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client(forged).GetAsync("/api/ops/partitions")).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_token_whose_payload_was_edited_is_401()
    {
        var (_, _) = await _host.NewUserAsync();
        var (victim, _) = await _host.NewUserAsync();
        var token = new TokenIssuer(_host.Jwt).Issue(Guid.NewGuid());
        var parts = token.Split('.');
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { sub = victim.ToString(), iss = _host.Jwt.Issuer, aud = _host.Jwt.Audience,
            exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }));
        var tampered = $"{parts[0]}.{payload}.{parts[2]}";

        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client(tampered).GetAsync("/api/todos")).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_expired_token_is_401()
    {
        var (userId, _) = await _host.NewUserAsync();
        var expired = new TokenIssuer(_host.Jwt).Issue(userId, lifetime: TimeSpan.FromHours(1), issuedAt: DateTime.UtcNow.AddHours(-2));

        var response = await _host.Client(expired).GetAsync("/api/todos");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_token_for_another_audience_is_401()
    {
        var (userId, _) = await _host.NewUserAsync();
        var other = new TokenIssuer(_host.Jwt with { Audience = "some-other-api" }).Issue(userId);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client(other).GetAsync("/api/todos")).StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_garbage_bearer_value_is_401()
    {
        var client = _host.Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.jwt");

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/dashboard")).StatusCode);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
