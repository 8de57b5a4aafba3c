namespace TodoScale.Cli.Tests;

public sealed class DemoCommandTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_demo_scales_a_legacy_database_under_live_writes_and_every_validation_passes()
    {
        var name = $"demo_{Guid.NewGuid():N}"[..20];

        var result = await Todoscale.RunAsync(
            ["demo", "--rows", "3000", "--no-serve", "--demo-database", name, "--database", server.AdminConnectionString]);

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("applied 002_migrate_existing_data.sql", result.Stdout);
        Assert.Matches(@"(\d+) of \1 checks PASS", result.Stdout);
        Assert.Contains("Index Scan using idx_todos_active_user_status_priority_p", result.Stdout);
        Assert.Matches(@"legacy writers: [1-9][\d,]* statements", result.Stdout);
        Assert.DoesNotContain("CRITICAL", result.Stdout);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_demo_refuses_a_row_count_out_of_range()
    {
        var result = await Todoscale.RunAsync(["demo", "--rows", "5", "--no-serve", "--database", server.AdminConnectionString]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--rows", result.Stderr);
    }
}
