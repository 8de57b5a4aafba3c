namespace TodoScale.Database.Cluster;

public sealed record LocalClusterOptions
{
    /// <summary>Skips fsync and full-page writes: for throwaway test clusters only, never for data you keep.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>Extra postgresql.conf settings written when the cluster is created.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}
