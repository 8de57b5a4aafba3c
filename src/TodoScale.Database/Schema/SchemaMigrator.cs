using DbUp;
using DbUp.Engine;
using DbUp.Engine.Output;
using Npgsql;

namespace TodoScale.Database.Schema;

/// <summary>
/// Applies the scaling scripts in order with DbUp, journalled in todoscale_schema_versions. The same
/// files operators run with psql -f; a session setting (todoscale.migrator) tells 002 to install its
/// functions but leave the bulk data move to `todoscale migrate run`. A script's outside-transaction
/// section (005's concurrent index builds, see <see cref="ScriptSections"/>) runs after the rest of that
/// script has committed, statement by statement, before the script is journalled.
/// </summary>
public sealed class SchemaMigrator(string connectionString)
{
    public const string JournalTable = "todoscale_schema_versions";

    private const long AdvisoryLockKey = 0x7D05CA1E_0001;

    public async Task<IReadOnlyList<string>> MigrateAsync(
        Action<string>? scriptApplied = null, Action? waitingForLock = null, CancellationToken ct = default)
    {
        await using var lockConnection = await LockAsync(waitingForLock, ct);
        try
        {
            var changed = await ScriptChecksums.ChangedAsync(lockConnection, ct);
            if (changed.Count > 0)
            {
                await ScriptChecksums.ForgetAsync(lockConnection, changed, ct);
            }

            var engine = BuildEngine(ct);
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

            await ScriptChecksums.RecordAsync(lockConnection, ct);
            return applied;
        }
        finally
        {
            await UnlockAsync(lockConnection);
        }
    }

    /// <summary>
    /// Runs one script again as psql -f would (its transactional part, then its outside-transaction section),
    /// whether or not the journal lists it, and without journalling it: for a database whose objects of an
    /// idempotent script were dropped since (the benchmark's reused data recreates todos_active bare).
    /// </summary>
    public async Task ReapplyAsync(string scriptName, CancellationToken ct = default)
    {
        var sections = ScriptSections.Parse(scriptName, ScalingScripts.Read(scriptName));
        await using var lockConnection = await LockAsync(null, ct);
        try
        {
            await using (var conn = new NpgsqlConnection(MigratorConnectionString))
            {
                await conn.OpenAsync(ct);
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(sections.TransactionalSql, conn, tx) { CommandTimeout = 0 })
                {
                    await cmd.ExecuteNonQueryAsync(ct);
                }

                await tx.CommitAsync(ct);
            }

            await new PlanRunner(MigratorConnectionString).RunAsync(sections.PlanQueries, ct);
        }
        finally
        {
            await UnlockAsync(lockConnection);
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

        var changed = await ScriptChecksums.ChangedAsync(conn, ct);
        var pending = ScalingScripts.Names.Where(n => !applied.Contains(n) || changed.Contains(n)).ToList();
        return new SchemaStatus(applied, pending, partitions);
    }

    private static async Task<bool> HasJournalAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT to_regclass('{JournalTable}') IS NOT NULL", conn);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private string MigratorConnectionString =>
        new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c todoscale.migrator=on" }.ConnectionString;

    // Two app instances starting at once would otherwise both see 001 pending and run it twice.
    private async Task<NpgsqlConnection> LockAsync(Action? waitingForLock, CancellationToken ct)
    {
        var lockConnection = new NpgsqlConnection(connectionString);
        try
        {
            await lockConnection.OpenAsync(ct);
            await using var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", lockConnection);
            tryLock.Parameters.AddWithValue(AdvisoryLockKey);
            if (!(bool)(await tryLock.ExecuteScalarAsync(ct))!)
            {
                waitingForLock?.Invoke();
                // Polled, not waited for in pg_advisory_lock(): a statement waiting there holds a snapshot, and the
                // holder's CREATE INDEX CONCURRENTLY waits for every older snapshot in the database to go away,
                // so the two migrators would wait for each other until the build's lock_timeout.
                do
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
                }
                while (!(bool)(await tryLock.ExecuteScalarAsync(ct))!);
            }

            return lockConnection;
        }
        catch
        {
            await lockConnection.DisposeAsync();
            throw;
        }
    }

    private static async Task UnlockAsync(NpgsqlConnection lockConnection)
    {
        await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", lockConnection);
        unlock.Parameters.AddWithValue(AdvisoryLockKey);
        await unlock.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private UpgradeEngine BuildEngine(CancellationToken ct)
    {
        var builder = DeployChanges.To
            .PostgresqlDatabase(MigratorConnectionString)
            .WithScripts(ScalingScripts.Names.Select(n => new SqlScript(n, ScalingScripts.Read(n))))
            .JournalToPostgresqlTable("public", JournalTable)
            .WithTransactionPerScript()
            // The scripts use $$ dollar quoting, which DbUp's $variable$ substitution would mangle.
            .WithVariablesDisabled()
            .LogTo(new SilentLog());
        // Last, so it wraps the executor the lines above configured.
        builder.Configure(c => c.ScriptExecutor = new SectionedScriptExecutor(
            c.ScriptExecutor, c, new PlanRunner(MigratorConnectionString), ct));
        return builder.Build();
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
