using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.Tokens;
using TodoScale.Database.Files;

namespace TodoScale.Api.Auth;

/// <summary>
/// Issuer, audience and HMAC-SHA256 signing key of the API's bearer tokens (configuration section "Auth":
/// Auth:Issuer, Auth:Audience, Auth:SigningKey as base64 of at least 32 bytes).
/// </summary>
public sealed record JwtSettings(string Issuer, string Audience, string SigningKey)
{
    public const string Section = "Auth";
    public const string DefaultIssuer = "todoscale";
    public const string DefaultAudience = "todoscale-api";
    public const string LocalKeyFileName = "api-signing-key";

    public SymmetricSecurityKey SecurityKey()
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(SigningKey);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{Section}:SigningKey is not base64.");
        }

        // HS256 with a shorter key is guessable; the JWT library refuses it too, with a less helpful message.
        return bytes.Length < 32
            ? throw new InvalidOperationException($"{Section}:SigningKey must be at least 32 bytes (base64 of 32 random bytes).")
            : new SymmetricSecurityKey(bytes);
    }

    public static JwtSettings? FromConfiguration(IConfiguration configuration)
    {
        var s = configuration.GetSection(Section);
        return string.IsNullOrWhiteSpace(s["SigningKey"])
            ? null
            : new JwtSettings(s["Issuer"] ?? DefaultIssuer, s["Audience"] ?? DefaultAudience, s["SigningKey"]!);
    }

    public static JwtSettings NewRandom() => new(DefaultIssuer, DefaultAudience, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    /// <summary>
    /// The built-in setup's key: kept in FOLDER/api-signing-key (created on first use, readable by the owner
    /// only), so tokens printed by `todoscale users add` stay valid across `todoscale serve` restarts.
    /// </summary>
    /// <exception cref="UnsafeSigningKeyFileException">The file exists and group or others may read or change it.</exception>
    public static JwtSettings LoadOrCreateLocal(string folder)
    {
        var path = Path.Combine(folder, LocalKeyFileName);
        if (!File.Exists(path))
        {
            // Created 0600 under a temporary name and renamed into place: no other user can open it while it is being
            // written, and no reader sees half a key. Commands starting at once take turns: the first file wins and
            // all use it, instead of each handing out tokens for a key of its own.
            OwnerOnlyFile.TryCreate(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        }

        if (OwnerOnlyFile.GroupOrOtherAccess(path) != UnixFileMode.None)
        {
            throw new UnsafeSigningKeyFileException(
                $"The token signing key {path} is open to other users (mode {OwnerOnlyFile.Octal(path)}): whoever reads it can sign tokens " +
                $"for any user, operators included, so it is not used. Restrict it with `chmod 600 {path}`; if others may have read it, " +
                "delete it instead (a new key is made on the next start, and tokens signed with the old one stop working).");
        }

        return new JwtSettings(DefaultIssuer, DefaultAudience, File.ReadAllText(path).Trim());
    }
}

/// <summary>The built-in signing key file is readable or writable by group or others: refused rather than trusted.</summary>
public sealed class UnsafeSigningKeyFileException(string message) : Exception(message);
