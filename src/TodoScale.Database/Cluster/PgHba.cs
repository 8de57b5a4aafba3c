using System.Text.RegularExpressions;

namespace TodoScale.Database.Cluster;

/// <summary>
/// Reads and rewrites the built-in cluster's pg_hba.conf. Clusters created before password authentication were
/// initialised with <c>initdb -A trust</c>: every local OS user could connect as the superuser.
/// </summary>
internal static partial class PgHba
{
    /// <summary>Unix-socket lines: only the server's own OS user, as itself (the way back in if the password file is lost).</summary>
    public const string LocalMethod = "peer";

    /// <summary>TCP lines: the password from the client's password file.</summary>
    public const string HostMethod = "scram-sha-256";

    public static bool UsesTrust(string path) => File.ReadLines(path).Any(line => TrustField(line) is not null);

    /// <summary>Every rule that says trust asks for <see cref="LocalMethod"/> or <see cref="HostMethod"/> instead; other rules stay as written.</summary>
    public static void ReplaceTrust(string path)
    {
        var lines = File.ReadAllLines(path).Select(line => TrustField(line) is { } trust
            ? line[..trust.Index] + (line.TrimStart().StartsWith("local", StringComparison.Ordinal) ? LocalMethod : HostMethod) + line[(trust.Index + trust.Length)..]
            : line).ToList();
        // In place: a rewrite under a new name would belong to root, and the server (the postgres user) could not read it.
        File.WriteAllLines(path, lines);
    }

    /// <summary>The auth-method field of a rule when it is trust: the 4th field of a local rule, the 5th or 6th (after an address and mask) of a host rule.</summary>
    private static Capture? TrustField(string line)
    {
        var fields = Field().Matches(line.Split('#', 2)[0]);
        if (fields.Count < 4)
        {
            return null;
        }

        // local DATABASE USER METHOD; host DATABASE USER ADDRESS [NETMASK] METHOD (options after it are name=value).
        int[] methodAt = fields[0].Value == "local" ? [3] : [4, 5];
        return methodAt.Where(i => i < fields.Count && fields[i].Value == "trust").Select(i => (Capture)fields[i]).FirstOrDefault();
    }

    [GeneratedRegex(@"\S+")]
    private static partial Regex Field();
}
