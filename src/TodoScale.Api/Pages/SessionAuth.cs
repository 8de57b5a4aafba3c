using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TodoScale.Api.Auth;

namespace TodoScale.Api.Pages;

/// <summary>
/// The web pages' session: an HttpOnly, SameSite=Strict cookie (Secure when the request is https) that the API accepts
/// next to bearer tokens. A request with an Authorization header is authenticated by the bearer scheme alone, exactly
/// as before the pages existed; only a request without one looks at the cookie.
///
/// Cross-site requests: browsers attach a SameSite=Strict cookie to no request started by another site, and on top of
/// that every cookie-authenticated POST/PUT/PATCH/DELETE must carry the session's own random token in the
/// <c>X-CSRF-Token</c> header (the page reads it from GET /api/session; no CORS policy lets another origin read it or
/// send a custom header). Without it the cookie is ignored and the request answers 401, so a forged form post or
/// a fetch from an older browser that ignores SameSite changes nothing. Bearer requests need no such header: a browser
/// never adds an Authorization header on its own.
/// </summary>
public static class SessionAuth
{
    public const string CookieScheme = "TodoScale.Session";
    public const string BearerOrCookieScheme = "TodoScale.BearerOrSession";
    public const string CookieName = "todoscale_session";
    public const string CsrfHeader = "X-CSRF-Token";
    public const string CsrfClaim = "csrf";
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(8);

    public static IServiceCollection AddTodoScaleSessions(this IServiceCollection services)
    {
        services.AddAuthentication()
            .AddCookie(CookieScheme, o =>
            {
                o.Cookie.Name = CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.Cookie.Path = "/";
                o.ExpireTimeSpan = SessionLifetime;
                o.SlidingExpiration = false;
                o.Events.OnValidatePrincipal = ValidateCsrfAsync;
                // An API answers with a status, never a redirect to a login page that does not exist.
                o.Events.OnRedirectToLogin = c => { c.Response.StatusCode = StatusCodes.Status401Unauthorized; return Task.CompletedTask; };
                o.Events.OnRedirectToAccessDenied = c => { c.Response.StatusCode = StatusCodes.Status403Forbidden; return Task.CompletedTask; };
            })
            .AddPolicyScheme(BearerOrCookieScheme, "Bearer token or page session", o =>
            {
                o.ForwardDefaultSelector = c => c.Request.Headers.Authorization.Count > 0 ? JwtBearerDefaults.AuthenticationScheme : CookieScheme;
                // 401 keeps its WWW-Authenticate: Bearer challenge and 403 stays the bearer scheme's, as API clients know them.
                o.ForwardChallenge = JwtBearerDefaults.AuthenticationScheme;
                o.ForwardForbid = JwtBearerDefaults.AuthenticationScheme;
            });
        // Registered after TodoScaleApi's AddAuthentication(JwtBearer): these options win, so every endpoint that
        // requires authorization accepts either credential without naming a scheme.
        services.Configure<AuthenticationOptions>(o =>
        {
            o.DefaultScheme = BearerOrCookieScheme;
            o.DefaultAuthenticateScheme = BearerOrCookieScheme;
            o.DefaultChallengeScheme = BearerOrCookieScheme;
            o.DefaultForbidScheme = BearerOrCookieScheme;
        });
        return services;
    }

    /// <summary>Signs the identity (from a sign-in code or a pasted token) in: the session cookie, with a fresh CSRF token.</summary>
    public static async Task<SessionView> SignInAsync(HttpContext http, ClaimsIdentity source)
    {
        var claims = source.Claims
            .Where(c => c.Type is TokenIssuer.SubjectClaim or TokenIssuer.RoleClaim or "email")
            .Select(c => new Claim(c.Type, c.Value))
            .Append(new Claim(CsrfClaim, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
        var identity = new ClaimsIdentity(claims, CookieScheme, TokenIssuer.SubjectClaim, TokenIssuer.RoleClaim);
        var principal = new ClaimsPrincipal(identity);
        var now = DateTimeOffset.UtcNow;
        var expires = now + SessionLifetime;
        // A session never outlives the token it was made from.
        if (source.FindFirst("exp")?.Value is { } exp && long.TryParse(exp, out var seconds))
        {
            var tokenExpiry = DateTimeOffset.FromUnixTimeSeconds(seconds);
            expires = tokenExpiry < expires ? tokenExpiry : expires;
        }

        await http.SignInAsync(CookieScheme, principal, new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = expires, IsPersistent = true });
        return SessionView.Of(principal, withCsrf: true);
    }

    private static Task ValidateCsrfAsync(CookieValidatePrincipalContext context)
    {
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method))
        {
            return Task.CompletedTask;
        }

        var expected = context.Principal?.FindFirst(CsrfClaim)?.Value;
        var sent = context.Request.Headers[CsrfHeader].ToString();
        if (expected is null || sent.Length == 0 ||
            !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(sent)))
        {
            context.RejectPrincipal();
        }

        return Task.CompletedTask;
    }
}

/// <summary>Who is signed in (GET /api/session); the CSRF token only for a cookie session, to the page itself.</summary>
public sealed record SessionView(Guid UserId, string? Email, bool Operator, string? CsrfToken)
{
    public static SessionView Of(ClaimsPrincipal user, bool withCsrf) => new(
        Guid.Parse(user.FindFirst(TokenIssuer.SubjectClaim)!.Value),
        user.FindFirst("email")?.Value,
        user.IsInRole(TokenIssuer.OperatorRole),
        withCsrf ? user.FindFirst(SessionAuth.CsrfClaim)?.Value : null);
}
