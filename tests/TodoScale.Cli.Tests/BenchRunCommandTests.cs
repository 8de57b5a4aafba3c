namespace TodoScale.Cli.Tests;

/// <summary>todoscale bench run as an operator starts it: its help, and usage errors that stop it before any database work.</summary>
public sealed class BenchRunCommandTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_run_help_lists_the_api_options()
    {
        var help = await Todoscale.RunAsync(["bench", "run", "--help"]);

        Assert.True(help.ExitCode == 0, help.Stderr);
        foreach (var option in new[] { "--api-clients", "--api-warmup", "--api-pool", "--no-api", "--grow-to", "--scenarios" })
        {
            Assert.Contains(option, help.Stdout);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_run_exits_2_with_the_option_named_for_a_negative_api_warmup_a_negative_pool_or_bad_client_lists()
    {
        // --database names a server that does not exist: a usage error must be reported before anything connects.
        const string nowhere = "Host=127.0.0.1;Port=1;Database=none;Timeout=1";

        var warmup = await Todoscale.RunAsync(["bench", "run", "--api-warmup", "-5", "--database", nowhere]);
        var clients = await Todoscale.RunAsync(["bench", "run", "--api-clients", "1,lots", "--database", nowhere]);
        var tooMany = await Todoscale.RunAsync(["bench", "run", "--api-clients", "1,500", "--database", nowhere]);
        var pool = await Todoscale.RunAsync(["bench", "run", "--api-pool", "-1", "--database", nowhere]);

        Assert.Equal(2, warmup.ExitCode);
        Assert.Contains("--api-warmup must be 0 or more seconds", warmup.Stderr);
        Assert.Equal(2, clients.ExitCode);
        Assert.Contains("--api-clients must be numbers separated by commas", clients.Stderr);
        Assert.Equal(2, tooMany.ExitCode);
        Assert.Contains("--api-clients must list 1 to 128 clients", tooMany.Stderr);
        Assert.Equal(2, pool.ExitCode);
        Assert.Contains("--api-pool must be between 0", pool.Stderr);
    }
}
