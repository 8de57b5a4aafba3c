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
            Rows = 2_000, Writers = 2, WritersAlone = TimeSpan.FromSeconds(1), BatchSize = 500, HoldFor = TimeSpan.FromSeconds(1),
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
            Assert.Equal([MigrationLiveRun.Fixed, MigrationLiveRun.Adaptive, MigrationLiveRun.Held], v.Result.Runs.Select(r => r.Name));
            Assert.All(v.Result.Runs, r => Assert.True(r.Writers.Latency.Count > 0, $"{v.Name}, {r.Name}: the writers wrote nothing during the copy"));
            Assert.True(v.Result.WritersWithTrigger.Latency.Count > 0, $"{v.Name}: the writers wrote nothing with the mirror trigger on");
            Assert.True(v.Result.WritersUntilCutover!.Latency.Count > 0, $"{v.Name}: the writers wrote nothing after the build");
            Assert.True(v.Result.WritersWithChangeLog!.Latency.Count > 0, $"{v.Name}: the writers wrote nothing with the change log");
            Assert.True(v.Result.WritersAfterBuildAlone!.Latency.Count > 0, $"{v.Name}: the writers wrote nothing without a trigger after the build");
            Assert.All(v.Result.Runs, r => Assert.True(r.LongestBatchMs > 0, $"{v.Name}, {r.Name}: no batch time"));
            // Each writer statement falls in one phase of the run: the batches' copy or the build after it.
            Assert.All(v.Result.Runs, r => Assert.Equal(r.Writers.Latency.Count, r.WritersDuringCopy.Count + r.WritersDuringBuild.Count));
            Assert.All(v.Result.Runs, r => Assert.True(r.WritersDuringCopy.Count > 0, $"{v.Name}, {r.Name}: no writer statement during the copy"));
            Assert.All(v.Result.Run(MigrationLiveRun.Held)!.Checks!, c => Assert.True(c.Passed, $"{v.Name} after the held run: {c.CheckName}"));
            // The held user's rows make the batches that reach them time out: split and retried, not repeated whole.
            Assert.True(v.Result.Run(MigrationLiveRun.Held)!.Run.Splits > 0, $"{v.Name}: no batch was split while the user was held");
            Assert.All(v.Result.Run(MigrationLiveRun.Fixed)!.Run.Samples.Where(x => x.Outcome == "batch"), x => Assert.Equal(500, x.BatchRows));
        });
        Assert.Equal(6, Directory.GetFiles(dir, "bench-migration-*.png").Length);
        Assert.False(await IsTrueAsync("_plain", "SELECT to_regclass('todos_parent_todo_id_idx') IS NOT NULL"));
        Assert.True(await IsTrueAsync("_idx", "SELECT to_regclass('todos_parent_todo_id_idx') IS NOT NULL"));
        // The change-log floor is the bench's alone: gone again, and the held run put the mirror back over it.
        Assert.True(await IsTrueAsync("_idx", "SELECT to_regclass('bench_change_log') IS NULL AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'bench_change_log')"));
        Assert.True(await IsTrueAsync("_idx", "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos'::regclass AND tgname = 'todoscale_mirror')"));
        var md = await File.ReadAllTextAsync(Path.Combine(dir, "benchmarks.md"));
        Assert.Contains("## Maintenance\n\nkept", md);
        Assert.Equal(1, md.Split(MigrationBench.BeginMarker).Length - 1);
        Assert.Contains("with the advised index on todos(parent_todo_id)", md);
        Assert.Matches(@"Targets, adaptive run \(`migrate run` without options\): copy ÷ single statement ≥ 0\.60× — legacy schema as generated \(no index on parent_todo_id\): [0-9.]+× \((met|\*\*not met\*\*)\)", md);
        Assert.Matches(@"- adaptive, a user held by the application: the longest any session waited on the migration's locks was [0-9,]+ ms .*, \*\*(not longer|longer) than\*\* the run's longest batch \([0-9,]+ ms", md);
        Assert.Matches(@"writers' p99 while the batches copied [0-9.,]+ ms \([0-9.]+× alone, [0-9,]+ statements\), while the indexes and bookkeeping were built ", md);
        Assert.Contains("![bench-migration-plain-adaptive](bench-migration-plain-adaptive.png)", md);
        Assert.Matches(@"What keeping the new tables in step costs the writers with no copy running \(their p99 ÷ alone\): legacy schema as generated \(no index on parent_todo_id\): the mirror [0-9.]+× before the build .*, [0-9.]+× after it .*; in the state after the build the writers without any trigger [0-9.]+×, against which the mirror costs [0-9.]+× and a key-only change log [0-9.]+×", md);

        async Task<bool> IsTrueAsync(string suffix, string sql)
        {
            var cs = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = options.DatabaseName + suffix }.ConnectionString;
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            await using var cmd = new NpgsqlCommand(sql, conn);
            return (bool)(await cmd.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void asking_for_only_the_index_variant_and_for_no_index_variant_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new MigrationBenchOptions { CompareParentIndex = false, OnlyParentIndex = true }.Validate());
        Assert.Contains("--only-index-variant", e.Message);
    }
}
