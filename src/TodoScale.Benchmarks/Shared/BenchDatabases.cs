using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>
/// The one way every benchmark creates, copies and drops its databases on the server it was given. Identifiers are
/// quoted by PostgreSQL (format %I), never built here. A copy from a template uses STRATEGY FILE_COPY: it copies the
/// files instead of writing the whole database through WAL and shared buffers, and its checkpoint gives every copy
/// the same start.
/// </summary>
public sealed class BenchDatabases(string serverConnectionString)
{
    /// <summary>A connection string to database <paramref name="name"/> on the same server, without a command timeout.</summary>
    public string ConnectionString(string name) =>
        new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name, CommandTimeout = 0 }.ConnectionString;

    public async Task<bool> ExistsAsync(string name, CancellationToken ct)
    {
        await using var server = new NpgsqlConnection(serverConnectionString);
        await server.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", server) { Parameters = { new() { Value = name } } };
        return await exists.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>Creates <paramref name="name"/>, empty or as a copy of <paramref name="template"/>.</summary>
    public Task CreateAsync(string name, string? template, CancellationToken ct) => template is null
        ? AdminDdlAsync("SELECT format('CREATE DATABASE %I', $1::text)", [name], ct)
        : AdminDdlAsync("SELECT format('CREATE DATABASE %I TEMPLATE %I STRATEGY FILE_COPY', $1::text, $2::text)", [name, template], ct);

    /// <summary>Drops <paramref name="name"/> if it exists, ending its sessions.</summary>
    public Task DropAsync(string name, CancellationToken ct) =>
        AdminDdlAsync("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)", [name], ct);

    /// <summary>Drops <paramref name="name"/> if it exists and creates it again, empty or as a copy of <paramref name="template"/>.</summary>
    public async Task RecreateAsync(string name, string? template, CancellationToken ct)
    {
        await DropAsync(name, ct);
        await CreateAsync(name, template, ct);
    }

    private async Task AdminDdlAsync(string formatSql, string[] names, CancellationToken ct)
    {
        await using var server = new NpgsqlConnection(serverConnectionString);
        await server.OpenAsync(ct);
        string statement;
        await using (var format = new NpgsqlCommand(formatSql, server))
        {
            foreach (var n in names)
            {
                format.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = n });
            }

            statement = (string)(await format.ExecuteScalarAsync(ct))!;
        }

        await using var ddl = new NpgsqlCommand(statement, server) { CommandTimeout = 0 };
        await ddl.ExecuteNonQueryAsync(ct);
    }
}
