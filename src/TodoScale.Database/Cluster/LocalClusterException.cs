namespace TodoScale.Database.Cluster;

public sealed class LocalClusterException(string message) : Exception(message);
