using System.Diagnostics;
using TodoScale.Database.Schema;
using static TodoScale.Database.Tests.Schema.IndexDb;

namespace TodoScale.Database.Tests.Schema;

/// <summary>
/// 005 builds its indexes on a populated layout without holding up the application's writes: ON ONLY the
/// parent, CREATE INDEX CONCURRENTLY per partition, ATTACH PARTITION, every lock wait bounded by a lock_timeout;
/// psql -f and the migrator run the same plan, a rerun replaces what an interrupted build left behind and
/// otherwise changes nothing.
/// </summary>
public sealed class IndexBuildTests(PostgresServer server)
{
    // Each write may wait for one lock step's lock_timeout; the rest is this shared, noisy machine.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(2);

    private static readonly string[] ActiveIndexes =
    [
        "idx_todos_active_user_status_priority", "idx_todos_active_user_priority_created", "idx_todos_active_user_due",
        "idx_todos_active_user_project", "idx_todos_active_user_parent", "idx_todos_active_user_open_due_cover",
        "idx_todos_active_user_done_completed", "idx_todos_active_user_created", "idx_todos_active_done_completed",
    ];

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task writers_never_wait_longer_than_the_lock_timeout_while_psql_or_the_migrator_builds_the_indexes_of_a_populated_layout()
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await server.CreateMigratedDatabaseAsync("idxwriters");
        await using var conn = await server.OpenAsync(cs);
        var bound = TimeSpan.FromSeconds(await ScalarWithoutTimeoutAsync<double>(conn,
            "SELECT extract(epoch FROM todoscale_index_lock_timeout()::interval)::float8")) + Margin;
        await DropAllAsync(conn);

        // Enough rows that building todos_active's indexes the old way, in one transaction, takes half as long again
        // as the bound: that build locks the first partition from its first index to its commit, so its writers
        // would wait past the bound and fail the test. How many rows that takes depends on the machine: measure.
        var target = 1.5 * bound;
        var oneTransactionBuild = TimeSpan.Zero;
        var rows = 0L;
        for (var perUser = 60; perUser > 0 && rows < 1_500_000;)
        {
            await AddTodosAsync(conn, users: 2_500, perUser);
            rows = await ScalarWithoutTimeoutAsync<long>(conn, "SELECT count(*) FROM todos_active");
            await ExecWithoutTimeoutAsync(conn, "ANALYZE todos_active");
            await using (var tx = await conn.BeginTransactionAsync(ct))
            {
                oneTransactionBuild = await TimeAsync(() => OneTransactionBuildAsync(conn, "todos_active"));
                await tx.RollbackAsync(ct);
            }

            // The build time grows about linearly with the rows: add what should reach the target, and a fifth more.
            var missing = rows * (Math.Min(4, 1.2 * target / oneTransactionBuild) - 1);
            perUser = oneTransactionBuild >= target ? 0 : Math.Max(10, (int)(missing / 2_500));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{rows:N0} rows: the one-transaction build of todos_active took {oneTransactionBuild.TotalSeconds:F1} s");
        Assert.True(oneTransactionBuild >= target,
            $"{rows:N0} rows built in one transaction in {oneTransactionBuild.TotalSeconds:F1} s, less than {target.TotalSeconds} s");

        var viaPsql = await BuildWhileWritingAsync(cs, async () =>
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath(Script));
            Assert.True(code == 0, $"psql -f {Script} exited {code}: {output}");
        });
        AssertWritersKeptGoing("psql -f", viaPsql, bound);
        Assert.Empty(await PlanAsync(conn));

        await DropAllAsync(conn);
        await ForgetJournalledAsync(conn);
        var viaMigrator = await BuildWhileWritingAsync(cs, async () =>
        {
            var applied = await new SchemaMigrator(cs).MigrateAsync(ct: ct);
            Assert.Equal([Script], applied);
        });
        AssertWritersKeptGoing("the migrator", viaMigrator, bound);
        Assert.Empty(await PlanAsync(conn));
        Assert.Equal(0L, await ScalarWithoutTimeoutAsync<long>(conn, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_replaces_the_invalid_index_an_interrupted_concurrent_build_left_behind()
    {
        var cs = await server.CreateMigratedDatabaseAsync("idxinvalidpsql");
        await using var conn = await server.OpenAsync(cs);
        var leftover = await InterruptedBuildAsync(cs, conn);

        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath(Script));

        Assert.True(code == 0, $"psql -f {Script} exited {code}: {output}");
        await AssertReplacedAsync(conn, leftover);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_migrator_replaces_an_invalid_leftover_and_outwaits_a_transaction_that_holds_the_parent_for_seconds()
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await server.CreateMigratedDatabaseAsync("idxinvalidmigr");
        await using var conn = await server.OpenAsync(cs);
        var leftover = await InterruptedBuildAsync(cs, conn);
        await ForgetJournalledAsync(conn);

        // An application transaction that wrote through todos_active and stays open for 4 s: creating the parent
        // index needs a lock that conflicts with it, so that step times out (1 s) and is retried until it ends.
        await using var app = await server.OpenAsync(cs);
        await using var appTx = await app.BeginTransactionAsync(ct);
        await ExecWithoutTimeoutAsync(app, "UPDATE todos_active SET priority = priority WHERE id = (SELECT id FROM todos_active LIMIT 1)");
        var release = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(4), ct);
            await appTx.CommitAsync(ct);
        }, ct);

        var sw = Stopwatch.StartNew();
        var applied = await new SchemaMigrator(cs).MigrateAsync(ct: ct);
        await release;

        Assert.Equal([Script], applied);
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(3.5), $"the migrator finished in {sw.Elapsed.TotalSeconds:F1} s, before the transaction ended");
        await AssertReplacedAsync(conn, leftover);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task running_005_again_by_psql_or_the_migrator_touches_no_index()
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await server.CreateMigratedDatabaseAsync("idxrerun");
        await using var conn = await server.OpenAsync(cs);
        var before = await SnapshotAsync(conn, withOids: true);

        Assert.Empty(await PlanAsync(conn));
        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath(Script));
        var applied = await new SchemaMigrator(cs).MigrateAsync(ct: ct);

        Assert.True(code == 0, $"psql -f {Script} exited {code}: {output}");
        Assert.DoesNotContain("CREATE INDEX", output);
        Assert.DoesNotContain("CALL", output);
        Assert.Empty(applied);
        // Same oids: nothing was dropped and built again.
        Assert.Equal(before, await SnapshotAsync(conn, withOids: true));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task an_installation_indexed_by_the_former_one_transaction_build_has_the_same_indexes_and_nothing_left_to_plan()
    {
        var migrated = await server.CreateMigratedDatabaseAsync("idxformer");
        await using var conn = await server.OpenAsync(migrated);
        var built = await SnapshotAsync(conn);
        await DropAllAsync(conn);
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await OneTransactionBuildAsync(conn);
            await tx.CommitAsync();
        }

        Assert.Empty(await PlanAsync(conn));
        Assert.Equal(built, await SnapshotAsync(conn));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_f_of_every_script_and_the_migrator_end_with_the_same_valid_attached_indexes()
    {
        var ct = TestContext.Current.CancellationToken;
        var byPsql = await server.CreateEmptyDatabaseAsync("idxpsql");
        foreach (var file in ScalingScripts.Names)
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, byPsql, Psql.ScriptPath(file));
            Assert.True(code == 0, $"psql -f {file} exited {code}: {output}");
        }

        var byMigrator = await server.CreateEmptyDatabaseAsync("idxmigrator");
        await new SchemaMigrator(byMigrator).MigrateAsync(ct: ct);

        await using var psqlConn = await server.OpenAsync(byPsql);
        await using var migratorConn = await server.OpenAsync(byMigrator);
        var (psqlIndexes, migratorIndexes) = WithoutUnsharedMonths(await SnapshotAsync(psqlConn), await SnapshotAsync(migratorConn));
        Assert.Equal(psqlIndexes, migratorIndexes);
        Assert.DoesNotContain(migratorIndexes, l => l.Contains("valid=false", StringComparison.Ordinal));
        // The names the README and the query plans show, on every partition, attached to their parent.
        for (var p = 0; p < 16; p++)
        {
            foreach (var index in ActiveIndexes)
            {
                Assert.Contains(migratorIndexes, l => l.StartsWith($"todos_active_part_{p} | {index}_p{p} | ", StringComparison.Ordinal)
                                                      && l.EndsWith($" | valid=true | attached to {index}", StringComparison.Ordinal));
            }
        }

        Assert.Contains(migratorIndexes, l => l.StartsWith("todos_archived_default | idx_todos_archived_user_completed_default | ", StringComparison.Ordinal));
        Assert.Equal(16 * (ActiveIndexes.Length + 1), migratorIndexes.Count(l => l.StartsWith("todos_active_part_", StringComparison.Ordinal)));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_month_partition_created_after_the_build_gets_every_archive_index_from_its_parent()
    {
        var cs = await server.CreateMigratedDatabaseAsync("idxnewmonth");
        await using var conn = await server.OpenAsync(cs);

        Assert.True(await ScalarWithoutTimeoutAsync<bool>(conn, "SELECT todoscale_create_month_partition('todos_archived', date '2019-07-01')"));

        var indexes = (await SnapshotAsync(conn)).Where(l => l.StartsWith("todos_archived_2019_07 | ", StringComparison.Ordinal)).ToList();
        foreach (var parent in new[] { "idx_todos_archived_user_completed", "idx_todos_archived_user_created", "idx_todos_archived_user_parent" })
        {
            Assert.Contains(indexes, l => l.EndsWith($" | valid=true | attached to {parent}", StringComparison.Ordinal));
        }

        Assert.Empty(await PlanAsync(conn));
    }

    private async Task<(TimeSpan Build, TimeSpan BuildStart, List<TodoWriters.Write> Writes, List<Exception> Errors)> BuildWhileWritingAsync(
        string cs, Func<Task> build)
    {
        await using var writers = await TodoWriters.StartAsync(cs, writers: 4);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var start = writers.Now;
        await build();
        var end = writers.Now;
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        await writers.StopAsync();
        return (end - start, start, [.. writers.Writes], [.. writers.Errors]);
    }

    private static void AssertWritersKeptGoing(
        string how, (TimeSpan Build, TimeSpan BuildStart, List<TodoWriters.Write> Writes, List<Exception> Errors) run, TimeSpan bound)
    {
        var during = run.Writes.Where(w => w.Start >= run.BuildStart && w.Start < run.BuildStart + run.Build).ToList();
        var slowest = run.Writes.MaxBy(w => w.Latency)!;
        var summary = $"{how}: build {run.Build.TotalSeconds:F1} s, {during.Count} writes during it to {during.Select(w => w.Partition).Distinct().Count()} partitions, "
                      + $"slowest write {slowest.Latency.TotalMilliseconds:F0} ms at {(slowest.Start - run.BuildStart).TotalSeconds:F1} s into the build";
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        Assert.True(run.Errors.Count == 0, $"{summary}; errors: {string.Join("; ", run.Errors.Select(e => e.Message))}");
        Assert.True(run.Build > bound, $"{summary}: too short to show anything against the {bound.TotalSeconds} s bound");
        Assert.True(during.Count >= 100 && during.Select(w => w.Partition).Distinct().Count() == 16, summary);
        Assert.True(slowest.Latency <= bound, $"{summary}, more than the {bound.TotalSeconds} s bound");
    }

    /// <summary>
    /// Drops one index and starts 005's own concurrent build of one partition's index the way an interruption
    /// leaves it: an open application transaction makes the build wait, and a lock timeout ends it. Returns the
    /// oid of the INVALID index it leaves behind.
    /// </summary>
    private async Task<uint> InterruptedBuildAsync(string cs, NpgsqlConnection conn)
    {
        await AddTodosAsync(conn, users: 200, perUser: 20);
        await ExecWithoutTimeoutAsync(conn, "DROP INDEX idx_todos_active_user_due");
        var build = (await PlanAsync(conn)).Single(s => s.StartsWith("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_todos_active_user_due_p3 ", StringComparison.Ordinal));

        await using var app = await server.OpenAsync(cs);
        await using (var appTx = await app.BeginTransactionAsync())
        {
            await ExecWithoutTimeoutAsync(app, "UPDATE todos_active_part_3 SET priority = priority WHERE id = (SELECT id FROM todos_active_part_3 LIMIT 1)");
            await ExecWithoutTimeoutAsync(conn, "SET lock_timeout = '300ms'");
            var error = await Assert.ThrowsAsync<PostgresException>(() => ExecWithoutTimeoutAsync(conn, build));
            Assert.Equal(PostgresErrorCodes.LockNotAvailable, error.SqlState);
            await ExecWithoutTimeoutAsync(conn, "RESET lock_timeout");
        }

        Assert.False(await ScalarWithoutTimeoutAsync<bool>(conn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_todos_active_user_due_p3'::regclass"));
        Assert.Contains("DROP INDEX CONCURRENTLY IF EXISTS public.idx_todos_active_user_due_p3", await PlanAsync(conn));
        return await ScalarWithoutTimeoutAsync<uint>(conn, "SELECT 'idx_todos_active_user_due_p3'::regclass::oid");
    }

    private static async Task AssertReplacedAsync(NpgsqlConnection conn, uint leftover)
    {
        Assert.Empty(await PlanAsync(conn));
        var p3 = (await SnapshotAsync(conn, withOids: true)).Single(l => l.StartsWith("todos_active_part_3 | idx_todos_active_user_due_p3 | ", StringComparison.Ordinal));
        Assert.Contains(" | valid=true | attached to idx_todos_active_user_due | ", p3);
        Assert.DoesNotContain($" | oid {leftover}", p3);
        Assert.True(await ScalarWithoutTimeoutAsync<bool>(conn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_todos_active_user_due'::regclass"));
        // Built from the same definition as every other partition's index.
        Assert.Equal(
            await ScalarWithoutTimeoutAsync<string>(conn, "SELECT replace(pg_get_indexdef('idx_todos_active_user_due_p4'::regclass), '4', '#')"),
            await ScalarWithoutTimeoutAsync<string>(conn, "SELECT replace(pg_get_indexdef('idx_todos_active_user_due_p3'::regclass), '3', '#')"));
    }
}
