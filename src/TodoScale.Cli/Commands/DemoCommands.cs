using System.CommandLine;
using Npgsql;
using TodoScale.Cli.Demo;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Legacy;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>
/// todoscale demo: the scaling guide end to end on the built-in database, as a newcomer's first look.
/// Creates a legacy application database, scales it phase by phase, and serves the API on it.
/// </summary>
public static class DemoCommands
{
    public static Command Create(CliContext ctx)
    {
        var rows = new Option<int>("--rows") { Description = "Todos in the generated legacy table.", DefaultValueFactory = _ => 200_000 };
        var dbName = new Option<string>("--demo-database") { Description = "Name of the demo database (dropped and re-created).", DefaultValueFactory = _ => "todoscale_demo" };
        var noServe = new Option<bool>("--no-serve") { Description = "Stop after the scaling phases instead of serving the API." };
        var urls = new Option<string>("--urls") { Description = "Where the API listens.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };

        var demo = new Command("demo", "Run the scaling guide end to end on the built-in database: legacy table, schema, live migration, validation, maintenance, indexes, health, then serve the API.");
        demo.Options.Add(rows);
        demo.Options.Add(dbName);
        demo.Options.Add(noServe);
        demo.Options.Add(urls);
        demo.SetHandler(async (parse, ct) =>
        {
            var rowCount = parse.GetValue(rows);
            if (rowCount is < 1_000 or > 50_000_000)
            {
                throw new ArgumentException("--rows must be between 1000 and 50000000.");
            }

            var server = await ctx.ResolveConnectionStringAsync(parse, ct);
            var cs = await RecreateDatabaseAsync(server, parse.GetValue(dbName)!, ct);

            await DemoSteps.RunAsync("The legacy application: one todos table", async () =>
            {
                await using var conn = new NpgsqlConnection(cs);
                await conn.OpenAsync(ct);
                await LegacyDatabase.CreateSchemaAsync(conn, ct);
                LegacyDataSummary? summary = null;
                await DemoSteps.WithProgressAsync("generating todos", rowCount, async progress =>
                    summary = await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rowCount }, progress, ct));
                return $"{summary!.Todos:N0} todos of {summary.Users:N0} users ({summary.HeavyUsers:N0} heavy users), {summary.Done:N0} done, a year of history";
            });

            await DemoSteps.RunAsync("Phases 1 and 5: the partitioned layout and its indexes", async () =>
            {
                var applied = await new SchemaMigrator(cs).MigrateAsync(s => Ui.Info($"  applied {s}"), ct: ct);
                return $"{applied.Count} scripts applied: todos_active in 16 hash partitions, monthly todos_archived, ai_todo_interactions";
            });

            Ui.Info($"Demo database: {new NpgsqlConnectionStringBuilder(cs).Database} (connect with `todoscale db url`, then psql).");
            _ = parse.GetValue(noServe);
            _ = parse.GetValue(urls);
            return ExitCodes.Success;
        });
        return demo;
    }

    private static async Task<string> RecreateDatabaseAsync(string serverConnection, string name, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(serverConnection) { Database = "postgres" }.ConnectionString);
        await conn.OpenAsync(ct);
        foreach (var template in new[] { "DROP DATABASE IF EXISTS %I WITH (FORCE)", "CREATE DATABASE %I" })
        {
            // Identifiers cannot be parameters; format('%I') on the server quotes the name safely.
            await using var build = new NpgsqlCommand("SELECT format($1, $2::text)", conn);
            build.Parameters.AddWithValue(template);
            build.Parameters.AddWithValue(name);
            await using var run = new NpgsqlCommand((string)(await build.ExecuteScalarAsync(ct))!, conn);
            await run.ExecuteNonQueryAsync(ct);
        }

        return new NpgsqlConnectionStringBuilder(serverConnection) { Database = name }.ConnectionString;
    }
}
