using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Database.Schema;

namespace TodoScale.Database.Distribution;

/// <summary>One step of migrations/citus/distribute.sql's plan (todoscale_distribution_plan()).</summary>
public sealed record DistributionStep(int Step, string? Table, string Action, string Statement);

/// <summary>How to distribute: null keeps the script's defaults (citus.shard_count; online when wal_level allows).</summary>
public sealed record DistributionOptions(int? ShardCount = null, bool? Online = null);

/// <summary>
/// Runs migrations/citus/distribute.sql against a Citus coordinator as psql does: its definitions in one transaction,
/// then every statement its plan (todoscale_distribution_plan()) returns, one at a time on one autocommit connection
/// (create_distributed_table_concurrently refuses a transaction block). The SQL decides what runs and in which order;
/// this only reports each step. Idempotent like the script: an empty plan means the database is distributed.
/// </summary>
public sealed class CitusDistributor(string connectionString)
{
    public const string ScriptName = "distribute.sql";

    /// <summary>The script's text, as embedded from migrations/citus/distribute.sql.</summary>
    public static string Script()
    {
        using var stream = typeof(CitusDistributor).Assembly.GetManifestResourceStream("TodoScale.Citus." + ScriptName)
            ?? throw new InvalidOperationException("migrations/citus/distribute.sql is not embedded in TodoScale.Database");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Distributes what is left to distribute; <paramref name="onStart"/> and <paramref name="onDone"/> see each step.
    /// Returns the steps that ran (none when the database was already distributed).
    /// </summary>
    public async Task<IReadOnlyList<DistributionStep>> RunAsync(DistributionOptions options,
        Action<DistributionStep, int>? onStart = null, Action<DistributionStep, TimeSpan>? onDone = null, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await RequireCitusAsync(conn, ct);

        var sections = ScriptSections.Parse(ScriptName, Script());
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using var define = new NpgsqlCommand(sections.TransactionalSql, conn, tx);
            await define.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
        }

        // Session settings the plan reads, as PGOPTIONS would give them to psql. set_config, so the values are parameters.
        await using (var set = new NpgsqlCommand(
            "SELECT set_config('citus.shard_count', coalesce($1::text, current_setting('citus.shard_count')), false), " +
            "set_config('todoscale.distribute_online', coalesce($2::text, ''), false)", conn))
        {
            set.Parameters.Add(new NpgsqlParameter { Value = (object?)options.ShardCount ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            set.Parameters.Add(new NpgsqlParameter { Value = options.Online is { } o ? (o ? "on" : "off") : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await set.ExecuteNonQueryAsync(ct);
        }

        var ran = new List<DistributionStep>();
        for (var round = 1; ; round++)
        {
            var plan = await ReadPlanAsync(conn, ct);
            if (plan.Count == 0)
            {
                return ran;
            }

            if (round > MaxRounds)
            {
                throw new InvalidOperationException($"distribute.sql still plans {plan.Count} step(s) after {MaxRounds} rounds, next: {plan[0].Statement}");
            }

            try
            {
                foreach (var step in plan)
                {
                    onStart?.Invoke(step, plan.Count);
                    var watch = Stopwatch.StartNew();
                    // No client-side timeout: copying a large table online takes as long as it takes; Ctrl-C cancels the
                    // statement and Citus cleans up what a cancelled concurrent copy left (the next run starts it again).
                    await using var cmd = new NpgsqlCommand(step.Statement, conn) { CommandTimeout = 0 };
                    await cmd.ExecuteNonQueryAsync(ct);
                    onDone?.Invoke(step, watch.Elapsed);
                    ran.Add(step);
                }
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable && round < MaxRounds)
            {
                // A step lost a deadlock or its lock_timeout against the application: it was rolled back whole. Plan
                // again from what is in the database now, after giving the application's transactions time to end.
                if (conn.State != System.Data.ConnectionState.Open || conn.FullState.HasFlag(System.Data.ConnectionState.Broken))
                {
                    throw;
                }

                await using (var rollback = new NpgsqlCommand("ROLLBACK", conn))
                {
                    await rollback.ExecuteNonQueryAsync(ct);
                }

                await Task.Delay(TimeSpan.FromSeconds(round), ct);
            }
        }
    }

    /// <summary>How often a plan is read again after a step lost a deadlock or a lock timeout.</summary>
    public const int MaxRounds = 4;

    /// <summary>The plan as it stands, without running it (the script's definitions must be installed: RunAsync does that).</summary>
    public static async Task<List<DistributionStep>> ReadPlanAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var steps = new List<DistributionStep>();
        await using var cmd = new NpgsqlCommand("SELECT step, table_name, action, statement FROM todoscale_distribution_plan() ORDER BY step", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            steps.Add(new DistributionStep(r.GetInt32(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.GetString(3)));
        }

        return steps;
    }

    // Before anything is defined: a server without the extension's files, or a database without the extension, is
    // told what to install instead of failing later on an unknown function.
    private static async Task RequireCitusAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus'), " +
            "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus'), current_setting('shared_preload_libraries')", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        var available = r.GetBoolean(0);
        var created = r.GetBoolean(1);
        var preload = r.GetString(2);
        if (!available)
        {
            throw new CitusNotAvailableException(
                "this PostgreSQL server has no Citus extension: install Citus (the Citus project's packages for your distribution) " +
                "on the coordinator and every worker, set shared_preload_libraries = 'citus', restart, CREATE EXTENSION citus; " +
                "then add the workers (citus_add_node) and run todoscale db distribute again.");
        }

        if (!created)
        {
            throw new CitusNotAvailableException(
                (preload.Contains("citus", StringComparison.Ordinal) ? "" : "shared_preload_libraries does not load citus on this server; ") +
                "the citus extension is not created in this database: CREATE EXTENSION citus; here and on every worker, " +
                "SELECT citus_set_coordinator_host('host', port); and citus_add_node('worker', port) for each worker, then run todoscale db distribute again.");
        }
    }
}
