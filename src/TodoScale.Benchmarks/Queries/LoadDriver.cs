using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>
/// Drives one statement set through Npgsql as the application does: each client holds one connection,
/// prepares the statements once and executes them with a user id drawn from the given set, in the <see cref="ClosedLoop"/>
/// (one request: the batch of statements, every row read).
/// </summary>
public static class LoadDriver
{
    public static async Task<LatencyStats> RunAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<BenchStatement> statements, IReadOnlyList<Guid> users, int clients,
        TimeSpan warmup, TimeSpan duration, int seed, CancellationToken ct)
    {
        var ready = new List<(NpgsqlConnection Conn, PreparedRequest Request)>();
        try
        {
            for (var c = 0; c < clients; c++)
            {
                var conn = await dataSource.OpenConnectionAsync(ct);
                ready.Add((conn, await PrepareBatchAsync(conn, statements, users[0], ct)));
            }

            // One unmeasured call per client before the clock starts: the first execution on a connection builds the
            // plan, and after the growth stage re-attaches 100+ archive months that re-planning outlasted the whole
            // time-based warm-up, charging one layout for what the application pays once per connection.
            await Task.WhenAll(ready.Select((r, i) => ExecuteOnceAsync(r.Request, users[i % users.Count], ct)));

            return (await ClosedLoop.RunAsync(clients, users, warmup, duration, seed, async (client, user, token) =>
            {
                await ExecuteOnceAsync(ready[client].Request, user, token);
                return null;
            }, ct)).Stats;
        }
        finally
        {
            foreach (var (conn, request) in ready)
            {
                await request.DisposeAsync();
                await conn.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The statements as one prepared batch on <paramref name="conn"/>, bound for <paramref name="user"/> until
    /// <see cref="ExecuteOnceAsync"/> binds another.
    /// </summary>
    internal static async Task<PreparedRequest> PrepareBatchAsync(NpgsqlConnection conn, IReadOnlyList<BenchStatement> statements, Guid user, CancellationToken ct)
    {
        var batch = conn.CreateBatch();
        var perUser = new List<(NpgsqlParameter, IReadOnlyDictionary<Guid, object>)>();
        foreach (var statement in statements)
        {
            var cmd = new NpgsqlBatchCommand(statement.Sql);
            AddParameters(cmd.Parameters, statement, user);
            for (var i = 0; i < statement.Args.Count; i++)
            {
                if (statement.Args[i].PerUser is { } values)
                {
                    perUser.Add((cmd.Parameters[i + 1], values));
                }
            }

            batch.BatchCommands.Add(cmd);
        }

        await batch.PrepareAsync(ct);
        return new PreparedRequest(batch, perUser);
    }

    /// <summary>One request: the batch for <paramref name="user"/>, every row of every statement read.</summary>
    internal static async Task ExecuteOnceAsync(PreparedRequest request, Guid user, CancellationToken ct)
    {
        foreach (var cmd in request.Batch.BatchCommands)
        {
            cmd.Parameters[0].Value = user;
        }

        foreach (var (parameter, values) in request.PerUser)
        {
            parameter.Value = UserValue(values, user);
        }

        await using var reader = await request.Batch.ExecuteReaderAsync(ct);
        do
        {
            while (await reader.ReadAsync(ct))
            {
            }
        }
        while (await reader.NextResultAsync(ct));
    }

    /// <summary>Every row of every statement for one user, as text: used to check that all layouts answer alike.</summary>
    public static async Task<string> AnswerAsync(NpgsqlDataSource dataSource, IReadOnlyList<BenchStatement> statements, Guid user, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var sb = new System.Text.StringBuilder();
        foreach (var statement in statements)
        {
            await using var cmd = new NpgsqlCommand(statement.Sql, conn);
            AddParameters(cmd.Parameters, statement, user);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    if (reader.GetName(i) == "archived_at")
                    {
                        // When a row was archived is known only to the archive; the baselines cannot answer it.
                        continue;
                    }

                    sb.Append(reader.IsDBNull(i) ? "∅" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }

                sb.Append('\n');
            }

            sb.Append("--\n");
        }

        return sb.ToString();
    }

    /// <summary>$1 the user, then the statement's own values, typed as the application types them.</summary>
    public static void AddParameters(NpgsqlParameterCollection parameters, BenchStatement statement, Guid user)
    {
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = user });
        foreach (var arg in statement.Args)
        {
            parameters.Add(new NpgsqlParameter { NpgsqlDbType = arg.Type, Value = arg.PerUser is { } values ? UserValue(values, user) : arg.Value ?? DBNull.Value });
        }
    }

    // A user the run has no value for would measure a miss instead of the statement's work: a request fails instead.
    private static object UserValue(IReadOnlyDictionary<Guid, object> values, Guid user) =>
        values.TryGetValue(user, out var value) ? value : throw new InvalidOperationException($"no per-user value for user {user}: the run measures only users it has one for");
}

/// <summary>A prepared batch and the parameters it binds per user besides the user id itself.</summary>
internal sealed class PreparedRequest(NpgsqlBatch batch, IReadOnlyList<(NpgsqlParameter Parameter, IReadOnlyDictionary<Guid, object> Values)> perUser) : IAsyncDisposable
{
    public NpgsqlBatch Batch { get; } = batch;

    public IReadOnlyList<(NpgsqlParameter Parameter, IReadOnlyDictionary<Guid, object> Values)> PerUser { get; } = perUser;

    public ValueTask DisposeAsync() => Batch.DisposeAsync();
}
