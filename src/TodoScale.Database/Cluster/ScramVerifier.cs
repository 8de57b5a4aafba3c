using System.Security.Cryptography;
using System.Text;

namespace TodoScale.Database.Cluster;

/// <summary>
/// The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, as pg_authid keeps it). Sending
/// ALTER ROLE ... PASSWORD with the verifier instead of the password keeps the password itself out of the
/// server log and pg_stat_statements, where a plain ALTER ROLE would leave it.
/// </summary>
internal static class ScramVerifier
{
    private const int Iterations = 4096;

    /// <param name="password">ASCII only: the generated passwords are hex, so SASLprep has nothing to normalise.</param>
    public static string Create(string password, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${Iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }
}
