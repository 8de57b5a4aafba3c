using DbUp;
using DbUp.Engine;
using DbUp.Engine.Output;
using Npgsql;

namespace TodoScale.Database.Schema;

/// <summary>
/// Applies the scaling scripts in order with DbUp, journalled in todoscale_schema_versions. The same
/// files operators run with psql -f; a session setting (todoscale.migrator) tells 002 to install its
/// functions but leave the bulk data move to `todoscale migrate run`.
/// </summary>
public sealed class SchemaMigrator(string connectionString)
{
    public const string JournalTable = "todoscale_schema_versions";

    // Two app instances starting at once would otherwise both see 001 pending and run it twice.
    private const long AdvisoryLockKey = 0x7D05CA1E_0001;

    public async Task<IReadOnlyList<string>> MigrateAsync(
        Action<string>? scriptApplied = null, Action? waitingForLock = null, CancellationToken ct = default)
    {
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(ct);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", lockConnection))
        {
            tryLock.Parameters.AddWithValue(AdvisoryLockKey);
            if (!(bool)(await tryLock.ExecuteScalarAsync(ct))!)
            {
                waitingForLock?.Invoke();
                await using var waitLock = new NpgsqlCommand("SELECT pg_advisory_lock($1)", lockConnection) { CommandTimeout = 0 };
                waitLock.Parameters.AddWithValue(AdvisoryLockKey);
                await waitLock.ExecuteNonQueryAsync(ct);
            }
        }

        try
        {
            var engine = BuildEngine();
            var applied = new List<string>();
            engine.ScriptExecuted += (_, e) =>
            {
                if (e is ScriptExecutedEventArgs args)
                {
                    applied.Add(args.Script.Name);
                    scriptApplied?.Invoke(args.Script.Name);
                }
            };
            var result = await Task.Run(engine.PerformUpgrade, ct);
            if (!result.Successful)
            {
                throw new SchemaMigrationException(result.ErrorScript?.Name ?? "(connection)", Describe(result.Error), result.Error);
            }

            return applied;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", lockConnection);
            unlock.Parameters.AddWithValue(AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    public async Task<SchemaStatus> GetStatusAsync(CancellationToken ct = default)
    {
        var applied = new List<string>();
        var partitions = new List<PartitionInfo>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using (var cmd = new NpgsqlCommand(
            "SELECT scriptname FROM todoscale_schema_versions WHERE to_regclass('todoscale_schema_versions') IS NOT NULL ORDER BY scriptname", conn))
        {
            if (await HasJournalAsync(conn, ct))
            {
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(reader.GetString(0));
                }
            }
        }

        await using (var cmd = new NpgsqlCommand("""
            SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relkind = 'p' AND p.relname IN ('todos_active', 'todos_archived', 'ai_todo_interactions')
            ORDER BY p.relname, c.relname
            """, conn))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                partitions.Add(new PartitionInfo(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        var pending = ScalingScripts.Names.Where(n => !applied.Contains(n)).ToList();
        return new SchemaStatus(applied, pending, partitions);
    }

    private static async Task<bool> HasJournalAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT to_regclass('{JournalTable}') IS NOT NULL", conn);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private UpgradeEngine BuildEngine()
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c todoscale.migrator=on" };
        return DeployChanges.To
            .PostgresqlDatabase(builder.ConnectionString)
            .WithScripts(ScalingScripts.Names.Select(n => new SqlScript(n, ScalingScripts.Read(n))))
            .JournalToPostgresqlTable("public", JournalTable)
            .WithTransactionPerScript()
            // The scripts use $$ dollar quoting, which DbUp's $variable$ substitution would mangle.
            .WithVariablesDisabled()
            .LogTo(new SilentLog())
            .Build();
    }

    private static string Describe(Exception? error) => error switch
    {
        PostgresException pg => $"{pg.SqlState}: {pg.MessageText}" + (pg.Where is { Length: > 0 } w ? $" ({w.Split('\n')[0]})" : ""),
        null => "unknown error",
        _ => error.Message.Split('\n')[0],
    };

    private sealed class SilentLog : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) { }
        public void LogWarning(string format, params object[] args) { }
        public void LogError(string format, params object[] args) { }
        public void LogError(Exception ex, string format, params object[] args) { }
    }
}
