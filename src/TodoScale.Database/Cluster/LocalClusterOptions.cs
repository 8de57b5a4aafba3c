namespace TodoScale.Database.Cluster;

public sealed record LocalClusterOptions
{
    /// <summary>Skips fsync and full-page writes: for throwaway test clusters only, never for data you keep.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>Extra postgresql.conf settings written when the cluster is created.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// When we are root and the server's user cannot reach the cluster folder (a clone in /root, mode 0700), keep
    /// the server's files under <see cref="FallbackRoot"/> instead of failing. For the default folder only: a folder
    /// the user named is kept where it was named, or refused with a clear message.
    /// </summary>
    public bool RelocateWhenUnreachable { get; init; }

    /// <summary>Where relocated clusters live, one folder each (named after the project folder and a hash of its path).</summary>
    public string FallbackRoot { get; init; } = "/var/lib/todoscale";

    /// <summary>
    /// Environment of the server processes, computed when the server starts (after <see cref="LocalCluster.ServerRoot"/>
    /// is settled): a Citus node gets PGPASSFILE so that its own connections to the other nodes find their passwords.
    /// </summary>
    public Func<LocalCluster, IReadOnlyDictionary<string, string>>? ServerEnvironment { get; init; }

    /// <summary>Told once about what the cluster did on its own (moved its data, switched from trust to passwords).</summary>
    public Action<string>? Notice { get; init; }
}
