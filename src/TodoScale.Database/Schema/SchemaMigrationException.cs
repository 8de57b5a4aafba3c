namespace TodoScale.Database.Schema;

/// <summary>A script failed: <see cref="Exception.Message"/> is one line naming the script and PostgreSQL's error.</summary>
public sealed class SchemaMigrationException(string script, string message, Exception? inner = null)
    : Exception($"{script}: {message}", inner)
{
    public string Script { get; } = script;
}
