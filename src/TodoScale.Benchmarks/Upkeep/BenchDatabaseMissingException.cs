namespace TodoScale.Benchmarks;

/// <summary>The benchmark needs a database an earlier benchmark run leaves, and the server does not have it (the message says which run).</summary>
public sealed class BenchDatabaseMissingException(string message) : InvalidOperationException(message);
