using System.CommandLine;
using System.Globalization;
using TodoScale.Benchmarks;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale bench run: the guide's success metrics measured side by side on generated data.</summary>
public static class BenchCommands
{
    /// <summary>The most one run generates: 100 million rows is already hours of generation; --rows 2147483647 was accepted, to generate until the disk filled.</summary>
    internal const int MaxRows = 100_000_000;

    public static Command Create(CliContext ctx)
    {
        var bench = new Command("bench", "Benchmarks: the TodoScale layout against the legacy table and the best single table, on the same generated data.");
        var defaults = new BenchOptions();

        var rows = new Option<int>("--rows") { Description = "Rows of the generated legacy todos table.", DefaultValueFactory = _ => 1_000_000 }.Between(1_000, MaxRows);
        var users = new Option<int?>("--users") { Description = "Users (default: one per 50 rows; 1% of them own ~35% of the todos)." }.Between(10, MaxRows);
        var duration = new Option<double>("--duration") { Description = "Seconds measured per round of each scenario cell (layout x query x users x clients).", DefaultValueFactory = _ => 0.5 }.Between(0.001, 3_600, " seconds");
        var warmup = new Option<double>("--warmup") { Description = "Unmeasured seconds before each round.", DefaultValueFactory = _ => 0.15 }.Between(0, 3_600, " seconds");
        var rounds = new Option<int>("--rounds") { Description = "Rounds per cell, layouts taking turns; figures are medians over the rounds.", DefaultValueFactory = _ => 3 }.Between(1, 20);
        var growthRounds = new Option<int>("--growth-rounds") { Description = "Rounds per cell of the history-growth stage (--grow-to, --history-years), whose targets are 1-client ratios of 1.1-1.2x.", DefaultValueFactory = _ => defaults.GrowthRounds }.Between(1, 20);
        var clients = new Option<string>("--clients") { Description = "Concurrent clients to measure, comma-separated.", DefaultValueFactory = _ => "1,16" }
            .Refusing(OptionRules.ClientCounts(128));
        var scenarios = new Option<string>("--scenarios") { Description = "Queries to measure, comma-separated: top20, dashboard, list, byid (an archived todo by id).", DefaultValueFactory = _ => "top20,dashboard,list,byid" }
            .Refusing(OptionRules.NamesFrom("scenario", ["top20", "dashboard", "list", "byid"]));
        var output = new Option<string>("--out") { Description = "Folder for benchmarks.md and the PNG charts (only the benchmark's own section of benchmarks.md is replaced).", DefaultValueFactory = _ => "docs" }
            .Refusing(OptionRules.Folder);
        var noPgBench = new Option<bool>("--no-pgbench") { Description = "Skip the pgbench runs." };
        var noOps = new Option<bool>("--no-ops") { Description = "Skip the pg_dump and VACUUM timings." };
        var historyYears = new Option<int>("--history-years") { Description = "Then add this many years of finished history (same open todos) and measure again; 0 skips it." }.Between(0, BenchOptions.MaxHistoryYears);
        var growTo = new Option<long>("--grow-to") { Description = "Then add whole years of finished history until the total reaches this many rows (e.g. 10000000), and measure small and grown history in alternation." }.Between(0L, 1_000_000_000L);
        var reuse = new Option<bool>("--reuse") { Description = "Reuse the legacy data of an earlier run of the same size (the TodoScale tables are rebuilt)." };
        var apiClients = new Option<string>("--api-clients") { Description = "Concurrent HTTP clients of the API stage, comma-separated.", DefaultValueFactory = _ => "1,4,16,64" }
            .Refusing(OptionRules.ClientCounts(128));
        var apiWarmup = new Option<double>("--api-warmup") { Description = "Longest the API stage loads its endpoints before measuring, in seconds; it stops earlier once the JIT has compiled the API's hot code.", DefaultValueFactory = _ => defaults.ApiWarmup.TotalSeconds }.AtMost(3_600.0, " seconds");
        var apiPool = new Option<int>("--api-pool") { Description = "Maximum Pool Size of the API's database connections (0: Npgsql's default of 100).", DefaultValueFactory = _ => defaults.ApiPoolSize }.Between(0, 1_024);
        var noApi = new Option<bool>("--no-api") { Description = "Skip the API stage (list and dashboard endpoints over HTTP against the database-only rate)." };
        var dbName = new Option<string?>("--bench-database") { Description = "Database the run creates (and drops first) on the server; default todoscale_bench_ROWS." }
            .Refusing(OptionRules.DatabaseName(63));

        var run = new Command("run", "Generate a legacy database, migrate it, and measure every layout in one run; writes docs/benchmarks.md and charts.")
        {
            rows, users, duration, warmup, rounds, growthRounds, clients, scenarios, output, noPgBench, noOps, apiClients, apiWarmup, apiPool, noApi, historyYears, growTo, reuse, dbName,
        };
        run.SetHandler(async (parse, ct) =>
        {
            var options = new BenchOptions
            {
                Rows = parse.GetValue(rows),
                Users = parse.GetValue(users),
                Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                Rounds = parse.GetValue(rounds),
                GrowthRounds = parse.GetValue(growthRounds),
                Clients = ParseClients(parse.GetValue(clients)!, "--clients"),
                ApiClients = ParseClients(parse.GetValue(apiClients)!, "--api-clients"),
                ApiWarmup = TimeSpan.FromSeconds(parse.GetValue(apiWarmup)),
                ApiPoolSize = parse.GetValue(apiPool),
                Api = !parse.GetValue(noApi),
                Queries = ParseScenarios(parse.GetValue(scenarios)!),
                OutputDirectory = parse.GetValue(output),
                PgBench = !parse.GetValue(noPgBench),
                Operations = !parse.GetValue(noOps),
                HistoryYears = parse.GetValue(historyYears),
                GrowTo = parse.GetValue(growTo),
                Reuse = parse.GetValue(reuse),
                DatabaseName = parse.GetValue(dbName),
                CommandLine = "todoscale " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            options.Validate();

            var server = await ctx.ResolveConnectionStringAsync(parse, ct);
            var result = await new BenchRunner(server, options, Ui.Info, ctx.HasExplicitDatabase(parse) ? null : ctx.LocalCluster(parse).Binaries).RunAsync(ct);
            if (options.OutputDirectory is { Length: > 0 } dir)
            {
                foreach (var path in BenchReport.Write(result, dir))
                {
                    Ui.Info($"wrote {path}");
                }
            }

            var mismatches = result.Checks.Sum(c => c.Mismatches) + result.ApiChecks.Sum(c => c.Mismatches);
            if (mismatches > 0)
            {
                Ui.Error($"{mismatches} answers differ between layouts (or between an API endpoint and its statements); the figures compare different work.");
                return ExitCodes.CheckFailed;
            }

            if (result.ApiErrors > 0)
            {
                Ui.Error($"{result.ApiErrors:N0} API requests were answered with another status than 200; the API figures measure failures.");
                return ExitCodes.CheckFailed;
            }

            Ui.Success($"benchmark finished in {result.Total.TotalMinutes:F1} min");
            return ExitCodes.Success;
        });

        bench.Subcommands.Add(run);
        bench.Subcommands.Add(BenchMigrationCommand.Create(ctx));
        bench.Subcommands.Add(BenchArchivalCommand.Create(ctx));
        bench.Subcommands.Add(BenchUpkeepCommand.Create(ctx));
        return bench;
    }

    private static int[] ParseClients(string text, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).Distinct().Order().ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option} must be numbers separated by commas, e.g. 1,16 (got '{text}').");
        }
    }

    private static QueryKind[] ParseScenarios(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant() switch
        {
            "top20" => QueryKind.Top20,
            "dashboard" => QueryKind.Dashboard,
            "list" => QueryKind.ListWithArchive,
            "byid" => QueryKind.ArchivedById,
            _ => throw new ArgumentException($"unknown scenario '{s}'; use top20, dashboard, list, byid."),
        }).Distinct().ToArray();
}
