namespace TodoScale.Cli.Tests;

/// <summary>todoscale bench upkeep as an operator starts it: its help, and usage errors that stop it before any database work.</summary>
public sealed class BenchUpkeepCommandTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_upkeep_help_names_the_database_it_needs_the_probe_and_the_operations()
    {
        var help = await Todoscale.RunAsync(["bench", "upkeep", "--help"]);

        Assert.True(help.ExitCode == 0, help.Stderr);
        foreach (var option in new[] { "--bench-database", "--probe-clients", "--warmup-seconds", "--idle-seconds", "--operations", "--out" })
        {
            Assert.Contains(option, help.Stdout);
        }

        Assert.Contains("bench run --grow-to", help.Stdout);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_upkeep_on_a_server_without_the_bench_database_exits_non_zero_and_names_the_run_to_do_first()
    {
        // The test server has no database of that name: the command must say what to run first, without a stack trace.
        var run = await Todoscale.RunAsync(["bench", "upkeep", "--bench-database", "todoscale_bench_absent_db", "--out", "", "--database", server.AdminConnectionString]);

        Assert.Equal(3, run.ExitCode);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Contains("bench run --grow-to", run.Stderr);
    }
}
