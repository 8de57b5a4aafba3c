using System.CommandLine;
using TodoScale.Benchmarks;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale bench archival: archival's rate against one DELETE … RETURNING, and the list query's latency while it runs.</summary>
public static class BenchArchivalCommand
{
    public static Command Create(CliContext ctx)
    {
        var defaults = new ArchivalBenchOptions();
        var doneRows = new Option<long>("--done-rows") { Description = "Done todos completed 40-70 days ago: what archival moves.", DefaultValueFactory = _ => defaults.DoneRows }.Between(100L, 100_000_000L);
        var openRows = new Option<long>("--open-rows") { Description = "Open todos (todo, in_progress), which stay and which the probe lists.", DefaultValueFactory = _ => defaults.OpenRows }.Between(0L, 100_000_000L);
        var recentRows = new Option<long>("--recent-rows") { Description = "Done todos completed 1-29 days ago, which must stay.", DefaultValueFactory = _ => defaults.RecentRows }.Between(0L, 100_000_000L);
        var users = new Option<int>("--users") { Description = "Users owning the todos; the heaviest 1% own 35% of them.", DefaultValueFactory = _ => defaults.Users }.Between(1, 10_000_000);
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per archival batch of the batched variants.", DefaultValueFactory = _ => defaults.BatchSize }.Between(1, 1_000_000);
        var probeRate = new Option<double>("--probe-rate") { Description = "Requests per second of the open-loop list-query probe.", DefaultValueFactory = _ => defaults.ProbeRate }.Between(0.001, 20_000, " per second");
        var probeConnections = new Option<int>("--probe-connections") { Description = "Connections the probe spreads its requests over.", DefaultValueFactory = _ => defaults.ProbeConnections }.Between(1, 64);
        var idleSeconds = new Option<double>("--idle-seconds") { Description = "Seconds the probe measures before archival starts (the idle figures).", DefaultValueFactory = _ => defaults.Idle.TotalSeconds }.Between(0.001, 86_400, " seconds");
        var afterSeconds = new Option<double>("--after-seconds") { Description = "Seconds the probe goes on after archival ends, before any VACUUM.", DefaultValueFactory = _ => defaults.After.TotalSeconds }.Between(0, 86_400, " seconds");
        var warmupSeconds = new Option<double>("--warmup-seconds") { Description = "Unmeasured seconds of probing on each fresh copy first.", DefaultValueFactory = _ => defaults.ProbeWarmup.TotalSeconds }.Between(0, 86_400, " seconds");
        var rounds = new Option<int>("--rounds") { Description = "Rounds; each runs every variant on a fresh copy, and figures are medians over the rounds.", DefaultValueFactory = _ => defaults.Rounds }.Between(1, 20);
        var closedLoop = new Option<bool>("--closed-loop") { Description = "Also run each variant with a closed-loop probe of one client (one more copy and archival per variant and round)." };
        var variants = new Option<string>("--variants") { Description = $"Variants to measure, comma-separated: {string.Join(", ", ArchivalVariants.AllKeys)}.", DefaultValueFactory = _ => string.Join(',', defaults.Variants) }
            .Refusing(OptionRules.NamesFrom("archival variant", ArchivalVariants.AllKeys));
        var throttleMs = new Option<double>("--throttle-ms") { Description = "Pause after each batch's commit in the throttled variant, in ms.", DefaultValueFactory = _ => defaults.Throttle.TotalMilliseconds }.Between(0, 10_000, " ms");
        var reuse = new Option<bool>("--reuse") { Description = "Reuse the template database of an earlier run with the same data options (filled within 7 days)." };
        var output = new Option<string>("--out") { Description = "Folder of benchmarks.md (only this benchmark's marked block is replaced); empty prints only.", DefaultValueFactory = _ => "docs" }.Refusing(OptionRules.Folder);
        var dbName = new Option<string>("--bench-database") { Description = "Prefix of the databases the run creates (and drops first).", DefaultValueFactory = _ => defaults.DatabaseName }.Refusing(OptionRules.DatabaseName(41));

        var command = new Command("archival", "Measure archival (003) against one DELETE … RETURNING into the archive, and the list query's latency while it runs; writes a block of docs/benchmarks.md.")
        {
            doneRows, openRows, recentRows, users, batchSize, probeRate, probeConnections, idleSeconds, afterSeconds, warmupSeconds,
            rounds, closedLoop, variants, throttleMs, reuse, output, dbName,
        };
        command.SetHandler(async (parse, ct) =>
        {
            var options = new ArchivalBenchOptions
            {
                DoneRows = parse.GetValue(doneRows),
                OpenRows = parse.GetValue(openRows),
                RecentRows = parse.GetValue(recentRows),
                Users = parse.GetValue(users),
                BatchSize = parse.GetValue(batchSize),
                ProbeRate = parse.GetValue(probeRate),
                ProbeConnections = parse.GetValue(probeConnections),
                Idle = Seconds(parse.GetValue(idleSeconds), "--idle-seconds"),
                After = Seconds(parse.GetValue(afterSeconds), "--after-seconds"),
                ProbeWarmup = Seconds(parse.GetValue(warmupSeconds), "--warmup-seconds"),
                Rounds = parse.GetValue(rounds),
                ClosedLoop = parse.GetValue(closedLoop),
                Variants = parse.GetValue(variants)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => v.ToLowerInvariant()).Distinct().ToList(),
                Throttle = parse.GetValue(throttleMs) is var ms && double.IsFinite(ms) && ms is >= 0 and <= 10_000
                    ? TimeSpan.FromMilliseconds(ms)
                    : throw new ArgumentException($"--throttle-ms must be between 0 and 10000 (got {parse.GetValue(throttleMs)})."),
                Reuse = parse.GetValue(reuse),
                DatabaseName = parse.GetValue(dbName)!,
                CommandLine = "todoscale " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            options.Validate();

            var server = await ctx.ResolveConnectionStringAsync(parse, ct);
            var result = await new ArchivalBench(server, options, Ui.Info).RunAsync(ct);
            if (parse.GetValue(output) is { Length: > 0 } dir)
            {
                Ui.Info($"wrote {ArchivalReport.Write(result, dir)}");
            }
            else
            {
                Console.WriteLine(ArchivalReport.Markdown(result));
            }

            foreach (var s in ArchivalReport.Summaries(result).Where(s => s.Variant.Key != ArchivalVariants.Single && s.Variant.MovesRows))
            {
                Ui.Info($"{s.Variant.Key}: {s.RateRatio:F2}x the single statement's rate, list p99 {s.P99Ratio:F2}x idle during archival: target {(s.MeetsTarget ? "met" : "not met")}");
            }

            var failed = result.Runs.Where(r => !r.Check.Passed).ToList();
            if (failed.Count > 0)
            {
                foreach (var r in failed)
                {
                    Ui.Error($"round {r.Round} {r.Variant.Key}: {r.Check}");
                }

                return ExitCodes.CheckFailed;
            }

            Ui.Success($"archival benchmark finished in {result.Total.TotalMinutes:F1} min");
            return ExitCodes.Success;
        });
        return command;
    }

    private static TimeSpan Seconds(double value, string option) =>
        double.IsFinite(value) && value is >= 0 and <= 86_400
            ? TimeSpan.FromSeconds(value)
            : throw new ArgumentException($"{option} must be between 0 and 86400 seconds (got {value}).");
}
