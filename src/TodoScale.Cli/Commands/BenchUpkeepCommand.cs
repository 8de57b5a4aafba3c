using System.CommandLine;
using TodoScale.Benchmarks;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale bench upkeep: the operator's upkeep on the grown single table against TodoScale's partitions, with the application beside it.</summary>
public static class BenchUpkeepCommand
{
    public static Command Create(CliContext ctx)
    {
        var defaults = new UpkeepBenchOptions();
        var dbName = new Option<string>("--bench-database") { Description = "The database a `todoscale bench run --grow-to N` left (its grown single table and archive).", DefaultValueFactory = _ => defaults.DatabaseName }
            .Refusing(OptionRules.DatabaseName(63));
        var probeClients = new Option<int>("--probe-clients") { Description = "Clients of the application probe: half read, half write.", DefaultValueFactory = _ => defaults.ProbeClients }.Between(2, 64);
        var idleSeconds = new Option<double>("--idle-seconds") { Description = "Seconds the probe measures on each layout before its upkeep starts (the idle figures).", DefaultValueFactory = _ => defaults.Idle.TotalSeconds }.Between(0.1, 3_600, " seconds");
        var warmupSeconds = new Option<double>("--warmup-seconds") { Description = "Unmeasured seconds of probing on each layout before its idle window.", DefaultValueFactory = _ => defaults.Warmup.TotalSeconds }.Between(0, 3_600, " seconds");
        var operations = new Option<string>("--operations") { Description = $"Upkeep to time, comma-separated: {string.Join(", ", UpkeepBench.AllOperations)}.", DefaultValueFactory = _ => string.Join(',', defaults.Operations) }
            .Refusing(OptionRules.NamesFrom("upkeep", UpkeepBench.AllOperations));
        var output = new Option<string>("--out") { Description = "Folder of benchmarks.md (only this benchmark's marked block is replaced); empty prints only.", DefaultValueFactory = _ => "docs" }.Refusing(OptionRules.Folder);

        var command = new Command("upkeep", "Time re-clustering, reindex and an aggressive VACUUM (FREEZE) on the grown single table and on TodoScale's partitions, with the application's reads and writes beside them; writes a block of docs/benchmarks.md.")
        {
            dbName, probeClients, warmupSeconds, idleSeconds, operations, output,
        };
        command.SetHandler(async (parse, ct) =>
        {
            var options = new UpkeepBenchOptions
            {
                DatabaseName = parse.GetValue(dbName)!,
                ProbeClients = parse.GetValue(probeClients),
                Idle = TimeSpan.FromSeconds(parse.GetValue(idleSeconds)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmupSeconds)),
                Operations = parse.GetValue(operations)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(o => o.ToLowerInvariant()).Distinct().OrderBy(o => UpkeepBench.AllOperations.ToList().IndexOf(o)).ToList(),
                OutputDirectory = parse.GetValue(output),
                CommandLine = "todoscale " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            options.Validate();

            var server = await ctx.ResolveConnectionStringAsync(parse, ct);
            UpkeepBenchResult result;
            try
            {
                result = await new UpkeepBench(server, options, Ui.Info).RunAsync(ct);
            }
            catch (BenchDatabaseMissingException e)
            {
                Ui.Error(e.Message);
                return ExitCodes.DatabaseError;
            }

            if (options.OutputDirectory is { Length: > 0 } dir)
            {
                Ui.Info($"wrote {UpkeepReport.Write(result, dir)}");
            }
            else
            {
                Console.WriteLine(UpkeepReport.Markdown(result));
            }

            foreach (var operation in options.Operations)
            {
                if (UpkeepReport.Verdict(result, operation) is { } verdict)
                {
                    Ui.Info(verdict.Replace("**", "", StringComparison.Ordinal));
                }
            }

            if (!result.RowsKept || result.ProbeErrors.Count > 0)
            {
                Ui.Error(result.RowsKept ? $"{result.ProbeErrors.Count} probe requests failed, first: {result.ProbeErrors[0]}" : "the row counts changed across the upkeep");
                return ExitCodes.CheckFailed;
            }

            Ui.Success($"upkeep benchmark finished in {result.Total.TotalMinutes:F1} min");
            return ExitCodes.Success;
        });
        return command;
    }
}
