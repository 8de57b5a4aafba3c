namespace TodoScale.Database.Distribution;

/// <summary>
/// The server or the database has no Citus: distributing cannot start. The message says what to install or create;
/// the CLI turns it into exit 4 (no server program), as it does for a machine without PostgreSQL.
/// </summary>
public sealed class CitusNotAvailableException(string message) : Exception(message);
