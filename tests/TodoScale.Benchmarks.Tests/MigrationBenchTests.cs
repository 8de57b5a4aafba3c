using Npgsql;
using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

public sealed class MigrationBenchTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_migration_bench_measures_both_legacy_variants_validates_each_and_replaces_only_its_own_block()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "benchmarks.md"), "# Benchmarks\n\n## Maintenance\n\nkept\n");
        var options = new MigrationBenchOptions
        {
            Rows = 2_000, Writers = 2, WritersAlone = TimeSpan.FromSeconds(1), BatchSize = 500,
            DatabaseName = $"migbench_{Guid.NewGuid():N}"[..20],
        };

        var result = await new MigrationBench(server.AdminConnectionString, options, _ => { }).RunAsync(TestContext.Current.CancellationToken);
        MigrationBench.Write(result, dir);
        MigrationBench.Write(result, dir);

        Assert.Equal(new[] { false, true }, result.Variants.Select(v => v.ParentIndex));
        Assert.All(result.Variants, v =>
        {
            Assert.True(v.Result.LegacyRows >= 2_000);
            Assert.NotEmpty(v.Result.Checks);
            Assert.All(v.Result.Checks, c => Assert.True(c.Passed, $"{v.Name}: {c.CheckName}"));
            Assert.True(v.Result.WritersDuringMigration.Latency.Count > 0, $"{v.Name}: the writers wrote nothing during the copy");
        });
        Assert.False(await HasParentIndexAsync("_plain"));
        Assert.True(await HasParentIndexAsync("_idx"));
        var md = await File.ReadAllTextAsync(Path.Combine(dir, "benchmarks.md"));
        Assert.Contains("## Maintenance\n\nkept", md);
        Assert.Equal(1, md.Split(MigrationBench.BeginMarker).Length - 1);
        Assert.Contains("with the advised index on todos(parent_todo_id)", md);

        async Task<bool> HasParentIndexAsync(string suffix)
        {
            var cs = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = options.DatabaseName + suffix }.ConnectionString;
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            await using var cmd = new NpgsqlCommand("SELECT to_regclass('todos_parent_todo_id_idx') IS NOT NULL", conn);
            return (bool)(await cmd.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        }
    }
}
