using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.Tokens;

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
    public static JwtSettings LoadOrCreateLocal(string folder)
    {
        var path = Path.Combine(folder, LocalKeyFileName);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(folder);
            var fresh = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            try
            {
                // CreateNew: two commands starting at once must not each write (and hand out tokens for) a different key.
                using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                using var writer = new StreamWriter(stream);
                writer.Write(fresh);
            }
            catch (IOException) when (File.Exists(path))
            {
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        return new JwtSettings(DefaultIssuer, DefaultAudience, File.ReadAllText(path).Trim());
    }
}
