namespace TodoScale.Database.Schema;

public sealed record SchemaStatus(
    IReadOnlyList<string> Applied,
    IReadOnlyList<string> Pending,
    IReadOnlyList<PartitionInfo> Partitions);

public sealed record PartitionInfo(string Parent, string Name, string Bound);
