using System.Globalization;
using System.Text.RegularExpressions;

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

        // The copy is counted against the rows it has to copy, never "200,543 of 200,000".
        var copying = Regex.Matches(result.Stdout, @"copying todos: ([\d,]+) of ([\d,]+)");
        Assert.NotEmpty(copying);
        Assert.All(copying, m => Assert.True(
            long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) <=
            long.Parse(m.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), m.Value));

        // A failed legacy statement is named (SQLSTATE, message, whether a real application meets it), not only counted.
        var failed = Regex.Match(result.Stdout, @"p99 [\d.]+ ms, (\d+) failed");
        Assert.True(failed.Success, result.Stdout);
        if (failed.Groups[1].Value != "0")
        {
            Assert.Matches(@"\d+ × [0-9A-Z]{5} .+ — (expected of a real application|NOT expected|not expected)", result.Stdout);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_demo_refuses_a_row_count_out_of_range()
    {
        var result = await Todoscale.RunAsync(["demo", "--rows", "5", "--no-serve", "--database", server.AdminConnectionString]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--rows", result.Stderr);
    }
}
