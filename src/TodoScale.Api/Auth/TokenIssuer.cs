using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TodoScale.Api.Auth;

/// <summary>Mints the API's bearer tokens: sub = user id, optional role = operator.</summary>
public sealed class TokenIssuer(JwtSettings settings)
{
    public const string SubjectClaim = "sub";
    public const string RoleClaim = "role";
    public const string OperatorRole = "operator";
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(30);

    public string Issue(Guid userId, string? email = null, bool isOperator = false, TimeSpan? lifetime = null, DateTime? issuedAt = null)
    {
        var now = issuedAt ?? DateTime.UtcNow;
        var claims = new Dictionary<string, object> { [SubjectClaim] = userId.ToString() };
        if (email is not null)
        {
            claims["email"] = email;
        }

        if (isOperator)
        {
            claims[RoleClaim] = OperatorRole;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + (lifetime ?? DefaultLifetime),
            SigningCredentials = new SigningCredentials(settings.SecurityKey(), SecurityAlgorithms.HmacSha256),
        });
    }
}
