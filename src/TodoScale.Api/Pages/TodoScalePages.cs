using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using TodoScale.Api.Auth;
using TodoScale.Api.Endpoints;
using TodoScale.Application.Users;

namespace TodoScale.Api.Pages;

/// <summary>
/// The web pages: the todo application at / and the operator console at /ops, static HTML and a small script each,
/// over the same /api endpoints every other client uses (one source of truth for rules and errors), plus the page
/// session (<see cref="SessionAuth"/>), the sign-in exchange, and the console's extra read and action endpoints.
/// Wired by two calls in <see cref="Hosting.TodoScaleApi"/>.
/// </summary>
public static class TodoScalePages
{
    public const string AppPath = "/";
    public const string OpsPath = "/ops";

    // No inline script or style, nothing from another origin: an injected <script> or a CDN outage does nothing here.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static IServiceCollection AddTodoScalePages(this IServiceCollection services, string connectionString)
    {
        services.AddTodoScaleSessions();
        services.AddSingleton(sp => new SignInCodes(sp.GetRequiredService<JwtSettings>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<MigrationCounts>();
        services.AddSingleton(sp => new OpsActions(connectionString, sp.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>()));
        return services;
    }

    public static IEndpointRouteBuilder MapTodoScalePages(this IEndpointRouteBuilder app)
    {
        app.MapGet(AppPath, (HttpContext http) => Page(http, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet(SignInCodes.LinkPath, (HttpContext http) => Page(http, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet(OpsPath, OpsPage).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/static/{name}", (string name, HttpContext http) =>
                PageAssets.Find(name) is { } asset && !name.EndsWith(".html", StringComparison.Ordinal) ? Serve(http, asset) : Results.NotFound())
            .AllowAnonymous().ExcludeFromDescription();

        var session = app.MapGroup("/api/session").WithTags("Session");
        session.MapPost("/", SignIn).AllowAnonymous()
            .WithSummary("Exchange a one-time sign-in code (todoscale users sign-in-link) or an API token for the pages' session cookie.");
        session.MapGet("/", (HttpContext http) => TypedResults.Ok(SessionView.Of(http.User, withCsrf: IsCookieSession(http))))
            .RequireAuthorization().WithSummary("Who is signed in; a cookie session also gets the token its unsafe requests must send in X-CSRF-Token.");
        session.MapDelete("/", async (HttpContext http) =>
            {
                await http.SignOutAsync(SessionAuth.CookieScheme);
                return TypedResults.NoContent();
            })
            .RequireAuthorization().WithSummary("Sign out: the session cookie is deleted.");

        app.MapOpsConsoleApi();
        return app;
    }

    /// <summary>A one-time sign-in link for <paramref name="email"/> (the user is created when new), for a host that is running (demo).</summary>
    public static async Task<string> CreateSignInLinkAsync(WebApplication app, string baseUrl, string email, bool isOperator, TimeSpan? lifetime = null,
        CancellationToken ct = default)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var (user, _) = await scope.ServiceProvider.GetRequiredService<UserService>().EnsureUserAsync(email, ct: ct);
        return SignInCodes.Link(baseUrl, app.Services.GetRequiredService<SignInCodes>().Issue(user.Id, user.Email, isOperator, lifetime));
    }

    private static bool IsCookieSession(HttpContext http) => http.User.Identity?.AuthenticationType == SessionAuth.CookieScheme;

    // A JSON body only: a cross-site HTML form can send urlencoded or multipart bodies, never application/json without a
    // CORS preflight this API does not answer, so another site cannot sign a visitor into its own account ("login CSRF").
    private static async Task<IResult> SignIn(SignInRequest body, HttpContext http, SignInCodes codes)
    {
        var fromCode = !string.IsNullOrWhiteSpace(body.Code);
        var fromToken = !string.IsNullOrWhiteSpace(body.Token);
        if (fromCode == fromToken)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["code"] = ["send either a sign-in code or an API token"] });
        }

        var identity = fromCode ? await codes.RedeemAsync(body.Code!.Trim()) : await codes.ValidateBearerAsync(body.Token!.Trim());
        if (identity is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in",
                detail: fromCode
                    ? "This sign-in link is expired, was used already, or was made with another signing key. Ask for a new one: todoscale users sign-in-link --email you@example.com"
                    : "This token is not valid here (expired, or signed with another key).");
        }

        return TypedResults.Ok(await SessionAuth.SignInAsync(http, identity));
    }

    private static IResult OpsPage(HttpContext http)
    {
        if (http.User.Identity?.IsAuthenticated != true)
        {
            return Results.Redirect("/?next=ops");
        }

        if (!http.User.IsInRole(TokenIssuer.OperatorRole))
        {
            Headers(http);
            return Results.Content(ForbiddenPage, "text/html; charset=utf-8", statusCode: StatusCodes.Status403Forbidden);
        }

        return Page(http, "ops.html");
    }

    private static IResult Page(HttpContext http, string name)
    {
        Headers(http);
        return Serve(http, PageAssets.Get(name));
    }

    private static void Headers(HttpContext http)
    {
        var h = http.Response.Headers;
        h.ContentSecurityPolicy = ContentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
    }

    private static IResult Serve(HttpContext http, Asset asset)
    {
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers.ETag = asset.ETag;
        return http.Request.Headers.IfNoneMatch.ToString() == asset.ETag
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : Results.Bytes(asset.Content, asset.ContentType);
    }

    private const string ForbiddenPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Operators only - TodoScale</title>
        <link rel="stylesheet" href="/static/site.css"></head>
        <body><main id="main"><h1>Operators only</h1>
        <p>The operator console needs the operator role. You are signed in without it.</p>
        <p>An operator signs in with a link from <code>todoscale users sign-in-link --email you@example.com --operator</code>.</p>
        <p><a href="/">Back to your todos</a></p></main></body></html>
        """;
}

public sealed record SignInRequest(string? Code, string? Token);
