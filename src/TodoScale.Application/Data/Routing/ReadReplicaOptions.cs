using Npgsql;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// Where the API's reads may go, following Npgsql's multi-host convention: the standbys are hosts
/// (<c>host</c> or <c>host:port</c>) with the same database, user and credentials as the primary. They come from
/// the primary's own connection string when it names several hosts (<c>Host=db1,db2:5433,db3</c>; Npgsql
/// finds the primary among them, TodoScale reads from the others) and/or from <see cref="Hosts"/>
/// (configuration <c>ReadReplicas:Hosts</c>, <c>todoscale serve --read-replicas</c>, <c>TODOSCALE_READ_REPLICAS</c>).
/// </summary>
public sealed record ReadReplicaOptions
{
    public const string Section = "ReadReplicas";
    public const string EnvironmentVariable = "TODOSCALE_READ_REPLICAS";

    /// <summary>Standby hosts, comma separated (<c>10.0.0.2,10.0.0.3:5433</c>).</summary>
    public string? Hosts { get; init; }

    /// <summary>
    /// A standby whose replay lags the primary by more than this gets no reads until it catches up (its lag is what a
    /// user who did not write recently could see as stale). 5 s by default.
    /// </summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often each standby's replay position is read; a dead standby is noticed at the latest this much later (or at once, by a failed read).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Adds <c>X-TodoScale-Served-By: standby|primary</c> (and the node) to API responses: diagnostics and tests.</summary>
    public bool ServedByHeader { get; init; }

    /// <summary>The standby endpoints (host, port) named by the primary's connection string and by <see cref="Hosts"/>, without duplicates.</summary>
    public IReadOnlyList<(string Host, int Port)> Candidates(string primaryConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(primaryConnectionString);
        var defaultPort = builder.Port;
        var hosts = SplitHosts(builder.Host);
        var list = new List<(string, int)>();
        // With a single host the connection string names only the primary; with several, any of them may be a standby
        // (which one is primary can change after a failover), so all are candidates and the monitor keeps only those in recovery.
        if (hosts.Count > 1)
        {
            list.AddRange(hosts.Select(h => ParseHost(h, defaultPort)));
        }

        list.AddRange(SplitHosts(Hosts).Select(h => ParseHost(h, defaultPort)));
        return list.Distinct().ToList();
    }

    /// <summary>The connection string of one node: the primary's, with that one host.</summary>
    public static string ForNode(string primaryConnectionString, string host, int port)
    {
        var builder = new NpgsqlConnectionStringBuilder(primaryConnectionString)
        {
            Host = host,
            Port = port,
        };
        builder.Remove("Target Session Attributes");
        builder.Remove("Load Balance Hosts");
        return builder.ConnectionString;
    }

    /// <summary>True when the connection string names several hosts: the primary must then be chosen by Npgsql (target session attributes = primary).</summary>
    public static bool IsMultiHost(string connectionString) =>
        SplitHosts(new NpgsqlConnectionStringBuilder(connectionString).Host).Count > 1;

    public static (string Host, int Port) ParseHost(string value, int defaultPort)
    {
        var v = value.Trim();
        // [::1]:5433 or host:5433; a bare IPv6 address (two or more colons) has no port.
        if (v.StartsWith('['))
        {
            var end = v.IndexOf(']', StringComparison.Ordinal);
            if (end < 0)
            {
                throw new ArgumentException($"read replica '{value}': missing ']'");
            }

            var host = v[1..end];
            return v.Length > end + 2 && v[end + 1] == ':' ? (host, Port(v[(end + 2)..], value)) : (host, defaultPort);
        }

        var colon = v.LastIndexOf(':');
        if (colon > 0 && v.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            return (v[..colon], Port(v[(colon + 1)..], value));
        }

        if (v.Length == 0)
        {
            throw new ArgumentException("read replica: empty host");
        }

        // Two or more colons: only an IPv6 address (without port; write [addr]:port for one), never host:port:port.
        if (colon > 0 && !System.Net.IPAddress.TryParse(v, out _))
        {
            throw new ArgumentException($"read replica '{value}': not host, host:port, IPv6 address or [IPv6]:port");
        }

        return (v, defaultPort);
    }

    private static int Port(string text, string value) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
            ? p
            : throw new ArgumentException($"read replica '{value}': '{text}' is not a port (1..65535)");

    private static List<string> SplitHosts(string? hosts) =>
        string.IsNullOrWhiteSpace(hosts) ? [] : hosts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
