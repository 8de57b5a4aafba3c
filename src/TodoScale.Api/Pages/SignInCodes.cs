using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TodoScale.Api.Auth;

namespace TodoScale.Api.Pages;

/// <summary>
/// One-time sign-in codes for the web pages: a short-lived token signed with the API's key, but for another audience
/// (<c>AUDIENCE-sign-in</c>), so a code that leaks (a terminal's scrollback, a shared screen) is not an API bearer token
/// and stops working once redeemed or after its lifetime. The link carries the code in the URL fragment
/// (<c>/sign-in#code=...</c>), which browsers never send to a server: it reaches no access log or proxy log, and the
/// page removes it from the address bar and history before it exchanges the code for a session cookie.
/// </summary>
public sealed class SignInCodes(JwtSettings settings, TimeProvider? time = null)
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(15);
    public const string LinkPath = "/sign-in";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    // Redeemed codes (jti -> expiry), kept until they would have expired anyway. In one process: behind several API
    // instances, or across a restart within the code's lifetime, a code could be redeemed once per instance; the
    // short lifetime bounds that.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _redeemed = new();

    public string Audience => settings.Audience + "-sign-in";

    public string Issue(Guid userId, string? email, bool isOperator, TimeSpan? lifetime = null)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>
        {
            [TokenIssuer.SubjectClaim] = userId.ToString(),
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
        };
        if (email is not null)
        {
            claims["email"] = email;
        }

        if (isOperator)
        {
            claims[TokenIssuer.RoleClaim] = TokenIssuer.OperatorRole;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = Audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + (lifetime ?? DefaultLifetime),
            SigningCredentials = new SigningCredentials(settings.SecurityKey(), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The address that signs the holder in: BASE/sign-in#code=CODE.</summary>
    public static string Link(string baseUrl, string code) => $"{baseUrl.TrimEnd('/')}{LinkPath}#code={Uri.EscapeDataString(code)}";

    /// <summary>The code's claims when it is valid and not redeemed before; null otherwise (expired, forged, used).</summary>
    public async Task<ClaimsIdentity?> RedeemAsync(string code)
    {
        var result = await new JsonWebTokenHandler { MapInboundClaims = false }.ValidateTokenAsync(code, Parameters(Audience));
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt || string.IsNullOrEmpty(jwt.Id))
        {
            return null;
        }

        var now = _time.GetUtcNow();
        foreach (var (id, expiry) in _redeemed)
        {
            if (expiry < now)
            {
                _redeemed.TryRemove(id, out _);
            }
        }

        return _redeemed.TryAdd(jwt.Id, jwt.ValidTo.AddMinutes(1)) ? result.ClaimsIdentity : null;
    }

    /// <summary>An API bearer token pasted into the sign-in form: its claims when valid.</summary>
    public async Task<ClaimsIdentity?> ValidateBearerAsync(string token)
    {
        var result = await new JsonWebTokenHandler { MapInboundClaims = false }.ValidateTokenAsync(token, Parameters(settings.Audience));
        return result.IsValid ? result.ClaimsIdentity : null;
    }

    private TokenValidationParameters Parameters(string audience) => new()
    {
        ValidIssuer = settings.Issuer,
        ValidAudience = audience,
        IssuerSigningKey = settings.SecurityKey(),
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        NameClaimType = TokenIssuer.SubjectClaim,
        RoleClaimType = TokenIssuer.RoleClaim,
        ClockSkew = TimeSpan.FromSeconds(30),
    };
}
