using Npgsql;

namespace TodoScale.Cli.Tests;

/// <summary>todoscale maintain cluster as an operator runs it: help, output, exit codes.</summary>
public sealed class ClusterCommandTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task maintain_cluster_clusters_the_partitions_exits_5_while_another_run_holds_the_lock_and_2_on_a_bad_threshold()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clicluster");
        await using var conn = await server.OpenAsync(cs);
        await using (var seed = new NpgsqlCommand("""
            INSERT INTO users (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 200) g;
            INSERT INTO todos_active (user_id, title, description)
            SELECT u.id, 'todo ' || g, repeat('x', 200) FROM generate_series(1, 10) g CROSS JOIN users u ORDER BY g, u.id;
            """, conn))
        {
            await seed.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var help = await Todoscale.RunAsync(["maintain", "cluster", "--help"]);
        var bad = await Todoscale.RunAsync(["maintain", "cluster", "--min-correlation", "2", "--database", cs]);
        var first = await Todoscale.RunAsync(["maintain", "cluster", "--min-correlation", "0.9", "--lock-timeout", "500", "--database", cs]);
        int busyCode;
        string busyError;
        await using (var other = await server.OpenAsync(cs))
        {
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(todoscale_maintenance_lock_key())", other))
            {
                await take.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            }

            (busyCode, _, busyError) = await Todoscale.RunAsync(["maintain", "cluster", "--database", cs]);
        }

        Assert.True(help.ExitCode == 0, help.Stderr);
        Assert.Contains("--lock-timeout", help.Stdout);
        Assert.Contains("--min-correlation", help.Stdout);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--min-correlation must be between 0 and 1", bad.Stderr);
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        Assert.Contains("todos_active_part_15", first.Stdout);
        Assert.Contains("clustered USING", first.Stdout);
        Assert.Contains("vacuum", first.Stdout);
        Assert.DoesNotContain("\u001b[", first.Stdout); // plain output when not on a terminal
        Assert.Equal(5, busyCode);
        Assert.Contains("error: cluster maintenance did not run: another maintenance run holds the lock", busyError);
    }
}
