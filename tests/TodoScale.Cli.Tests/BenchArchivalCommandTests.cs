namespace TodoScale.Cli.Tests;

/// <summary>todoscale bench archival as an operator starts it: its help, and usage errors that stop it before any database work.</summary>
public sealed class BenchArchivalCommandTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_archival_help_lists_the_data_batch_and_probe_options()
    {
        var help = await Todoscale.RunAsync(["bench", "archival", "--help"]);

        Assert.True(help.ExitCode == 0, help.Stderr);
        foreach (var option in new[] { "--done-rows", "--open-rows", "--users", "--batch-size", "--probe-rate", "--probe-connections", "--variants", "--out", "--bench-database" })
        {
            Assert.Contains(option, help.Stdout);
        }

        Assert.Contains("DELETE … RETURNING", help.Stdout);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_archival_exits_2_with_the_option_named_for_a_bad_batch_size_an_unknown_variant_or_a_non_number()
    {
        // --database names a server that does not exist: a usage error must be reported before anything connects.
        const string nowhere = "Host=127.0.0.1;Port=1;Database=none;Timeout=1";

        var batch = await Todoscale.RunAsync(["bench", "archival", "--batch-size", "0", "--database", nowhere]);
        var variant = await Todoscale.RunAsync(["bench", "archival", "--variants", "single,fast", "--database", nowhere]);
        var number = await Todoscale.RunAsync(["bench", "archival", "--done-rows", "many", "--database", nowhere]);

        Assert.Equal(2, batch.ExitCode);
        Assert.Contains("--batch-size must be between 1 and 1000000", batch.Stderr);
        Assert.Equal(2, variant.ExitCode);
        Assert.Contains("unknown archival variant 'fast'", variant.Stderr);
        Assert.Equal(2, number.ExitCode);
        Assert.Contains("many", number.Stderr);
    }
}
