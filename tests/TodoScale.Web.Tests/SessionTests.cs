using System.Text.Json;

namespace TodoScale.Web.Tests;

/// <summary>The page session over plain HTTP: how the cookie is made, what it opens, and what it refuses.</summary>
public sealed class SessionTests(PostgresServer server) : IAsyncLifetime
{
    private WebHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await WebHost.StartAsync(await server.CreateMigratedDatabaseAsync("websession"));

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private static string CodeOf(string link) => Uri.UnescapeDataString(link[(link.IndexOf("#code=", StringComparison.Ordinal) + 6)..]);

    private async Task<(HttpClient Client, string Csrf, HttpResponseMessage SignIn)> CookieClientAsync(Guid id, string email)
    {
        var client = _host.Client(handler: new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true });
        var response = await client.PostAsJsonAsync("/api/session", new { code = CodeOf(_host.SignInLink(id, email)) });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (client, session.GetProperty("csrfToken").GetString()!, response);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_sign_in_code_makes_an_httponly_samesite_strict_cookie_and_works_only_once()
    {
        var (id, email) = await _host.NewUserAsync();
        var link = _host.SignInLink(id, email);
        // The code travels in the fragment, which browsers never send to a server (no access log keeps it).
        Assert.StartsWith(_host.BaseUrl + "/sign-in#code=", link);

        var (client, _, signIn) = await CookieClientAsync(id, email);
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("todoscale_session=", cookie);
        Assert.Contains("httponly", cookie.ToLowerInvariant());
        Assert.Contains("samesite=strict", cookie.ToLowerInvariant());
        var me = await client.GetFromJsonAsync<JsonElement>("/api/session");
        Assert.Equal((id.ToString(), email, false), (me.GetProperty("userId").GetString(), me.GetProperty("email").GetString(), me.GetProperty("operator").GetBoolean()));

        var code = CodeOf(link);
        var first = await _host.Client().PostAsJsonAsync("/api/session", new { code });
        var second = await _host.Client().PostAsJsonAsync("/api/session", new { code });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.DoesNotContain("Set-Cookie", second.Headers.Select(h => h.Key));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_sign_in_code_is_not_an_api_token_and_a_form_post_cannot_sign_in()
    {
        var (id, email) = await _host.NewUserAsync();
        var code = CodeOf(_host.SignInLink(id, email));

        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client(bearer: code).GetAsync("/api/todos")).StatusCode);
        // What a cross-site HTML form can send: not JSON, so not even parsed.
        var form = await _host.Client().PostAsync("/api/session", new FormUrlEncodedContent([new("code", code)]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_cookie_request_that_changes_something_needs_the_csrf_header_while_bearer_requests_do_not()
    {
        var (id, email) = await _host.NewUserAsync();
        var (client, csrf, _) = await CookieClientAsync(id, email);

        var forged = await client.PostAsJsonAsync("/api/todos", new { title = "forged" });
        var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/todos") { Content = JsonContent.Create(new { title = "wrong token" }) };
        wrong.Headers.Add("X-CSRF-Token", "not-the-sessions-token");
        var wrongResponse = await client.SendAsync(wrong);
        var real = new HttpRequestMessage(HttpMethod.Post, "/api/todos") { Content = JsonContent.Create(new { title = "from the page" }) };
        real.Headers.Add("X-CSRF-Token", csrf);
        var realResponse = await client.SendAsync(real);
        var bearer = await _host.Client(_host.BearerToken(id, email)).PostAsJsonAsync("/api/todos", new { title = "from curl" });

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Created, realResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Created, bearer.StatusCode);
        // Reads need no header; the two refused posts stored nothing.
        var titles = (await client.GetFromJsonAsync<JsonElement>("/api/todos")).GetProperty("items").EnumerateArray()
            .Select(t => t.GetProperty("title").GetString()).Order().ToList();
        Assert.Equal(["from curl", "from the page"], titles);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_session_sees_another_users_todo_as_404_and_signing_out_ends_it()
    {
        var (otherId, otherEmail) = await _host.NewUserAsync();
        var others = await (await _host.Client(_host.BearerToken(otherId, otherEmail)).PostAsJsonAsync("/api/todos", new { title = "not yours" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var (id, email) = await _host.NewUserAsync();
        var (client, csrf, _) = await CookieClientAsync(id, email);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/todos/{others.GetProperty("id").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/ops/health")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/ops")).StatusCode);

        var signOut = new HttpRequestMessage(HttpMethod.Delete, "/api/session");
        signOut.Headers.Add("X-CSRF-Token", csrf);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(signOut)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/todos")).StatusCode);
    }
}
