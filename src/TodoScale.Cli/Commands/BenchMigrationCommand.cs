using System.CommandLine;
using TodoScale.Benchmarks;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale bench migration: the live migration's rates against one INSERT … SELECT, with and without writers.</summary>
public static class BenchMigrationCommand
{
    public static Command Create(CliContext ctx)
    {
        var rows = new Option<int>("--rows") { Description = "Rows of the generated legacy todos table.", DefaultValueFactory = _ => 1_000_000 }.Between(1_000, BenchCommands.MaxRows);
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per batch of the fixed baseline (today's settings).", DefaultValueFactory = _ => 5_000 }.Between(1, 1_000_000);
        var targetMs = new Option<int>("--target-ms") { Description = "The batch engine's target batch duration for the adaptive runs.", DefaultValueFactory = _ => 200 }.Between(10, 60_000, " ms");
        var holdSeconds = new Option<int>("--hold-seconds") { Description = "Seconds an application transaction holds a user during the held-rows run (0: skip that run).", DefaultValueFactory = _ => 5 }.Between(0, 3_600, " seconds");
        var writers = new Option<int>("--writers") { Description = "Connections of the simulated legacy application writing during the copy.", DefaultValueFactory = _ => 4 }.Between(0, 64);
        var thinkMs = new Option<int>("--think-ms") { Description = "Pause of each writer connection between two statements, in ms.", DefaultValueFactory = _ => 5 }.Between(0, 60_000, " ms");
        var aloneSeconds = new Option<int>("--writers-alone") { Description = "Seconds the writers run alone first (their latency without a migration).", DefaultValueFactory = _ => 30 }.Between(1, 3_600, " seconds");
        var noIndexVariant = new Option<bool>("--no-index-variant") { Description = "Skip the second variant with the index on todos(parent_todo_id) that the preflight advises." };
        var onlyIndexVariant = new Option<bool>("--only-index-variant") { Description = "Measure only the variant with the advised index on todos(parent_todo_id) (a quicker run; the docs block then holds only it)." };
        var output = new Option<string>("--out") { Description = "Folder of benchmarks.md (only this benchmark's marked block is replaced); empty prints only.", DefaultValueFactory = _ => "docs" }.Refusing(OptionRules.Folder);
        var dbName = new Option<string>("--bench-database") { Description = "Prefix of the databases the run creates (and drops first).", DefaultValueFactory = _ => "todoscale_bench_migration" }
            .Refusing(OptionRules.DatabaseName(51));

        var command = new Command("migration", "Measure the live migration (002) under a simulated application's writers: today's fixed batches against the batch engine, and a run where the application holds a user the copy needs, each against one INSERT … SELECT; writes a block of docs/benchmarks.md and charts of batch size and time.")
        {
            rows, batchSize, targetMs, holdSeconds, writers, thinkMs, aloneSeconds, noIndexVariant, onlyIndexVariant, output, dbName,
        };
        command.SetHandler(async (parse, ct) =>
        {
            var options = new MigrationBenchOptions
            {
                Rows = parse.GetValue(rows),
                BatchSize = parse.GetValue(batchSize),
                Target = TimeSpan.FromMilliseconds(parse.GetValue(targetMs)),
                HoldFor = TimeSpan.FromSeconds(parse.GetValue(holdSeconds)),
                Writers = parse.GetValue(writers),
                ThinkTime = TimeSpan.FromMilliseconds(parse.GetValue(thinkMs)),
                WritersAlone = TimeSpan.FromSeconds(parse.GetValue(aloneSeconds)),
                CompareParentIndex = !parse.GetValue(noIndexVariant),
                OnlyParentIndex = parse.GetValue(onlyIndexVariant),
                DatabaseName = parse.GetValue(dbName)!,
                CommandLine = "todoscale " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            options.Validate();

            var server = await ctx.ResolveConnectionStringAsync(parse, ct);
            var result = await new MigrationBench(server, options, Ui.Info).RunAsync(ct);
            var markdown = MigrationBench.Markdown(result);
            if (parse.GetValue(output) is { Length: > 0 } dir)
            {
                Ui.Info($"wrote {MigrationBench.Write(result, dir)}");
            }
            else
            {
                Console.WriteLine(markdown);
            }

            var failed = result.Variants.SelectMany(v => v.Result.Checks.Concat(v.Result.Runs.SelectMany(x => x.Checks ?? []))).Count(c => !c.Passed);
            if (failed > 0)
            {
                Ui.Error($"{failed} validate_migration() checks failed after the live migration.");
                return ExitCodes.CheckFailed;
            }

            Ui.Success($"migration benchmark finished in {result.Total.TotalMinutes:F1} min");
            return ExitCodes.Success;
        });
        return command;
    }
}
