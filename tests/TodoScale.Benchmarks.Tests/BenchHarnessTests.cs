using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

// Smoke tests of the harness on a few thousand rows: they prove it builds every layout, measures every cell,
// gets the same answers from every layout and writes its report. They assert nothing about speed.
public sealed class BenchHarnessTests(PostgresServer server)
{
    // The API stage has its own smoke test (ApiStageTests); these keep to the database stages and stay fast.
    internal static BenchOptions SmallRun(string output) => new()
    {
        Rows = 4_000,
        Users = 200,
        Duration = TimeSpan.FromMilliseconds(100),
        Warmup = TimeSpan.FromMilliseconds(20),
        Clients = [1, 2],
        Rounds = 2,
        PgBench = false,
        Operations = true,
        Api = false,
        OutputDirectory = output,
        DatabaseName = $"bench_smoke_{Guid.NewGuid():N}"[..28],
        CommandLine = "todoscale bench run --rows 4000 --users 200",
    };

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_small_run_measures_every_layout_query_user_set_and_client_count_and_every_layout_answers_alike()
    {
        var options = SmallRun(Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}"));
        var result = await new BenchRunner(server.AdminConnectionString, options, _ => { }, server.Binaries).RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal([BenchRunner.StageMigrated, BenchRunner.StageMaintained], result.Stages.Select(s => s.Key));
        foreach (var stage in result.Stages)
        {
            foreach (var layout in stage.Layouts)
            {
                foreach (var query in options.Queries)
                {
                    foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
                    {
                        // (a0) scans the whole table per query, so it is measured with one client only (MaxClients).
                        foreach (var clients in options.Clients.Where(c => c <= layout.MaxClients))
                        {
                            var cell = result.Cell(stage.Key, layout.Key, query, set, clients);
                            Assert.True(cell is { Stats.Count: > 0 }, $"no measurement for {stage.Key}/{layout.Key}/{query}/{set}/{clients}");
                        }
                    }
                }
            }
        }

        Assert.DoesNotContain(result.Cells, c => c.Clients > c.Layout.MaxClients);
        Assert.Equal(options.Queries.Count, result.Checks.Count);
        Assert.All(result.Checks, c => Assert.True(c.Mismatches == 0, $"{c.Query}: {c.Mismatches} mismatches, first {c.FirstMismatch}"));
        Assert.Equal(4_000L, result.Data!.ActiveRows + result.Data.ArchivedRows);
        Assert.True(result.Data.ArchivedRows > 0, "the migration archived nothing");
        Assert.Contains(result.Operations, o => o.Operation.StartsWith("pg_dump", StringComparison.Ordinal) && o.Bytes > 0);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_report_keeps_other_sections_of_benchmarks_md_and_writes_png_charts()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "benchmarks.md"), "# Benchmarks\n\n## Migration\n\nmigration figures stay\n");
        var options = SmallRun(dir) with { Clients = [1], Operations = false, Queries = [QueryKind.Top20] };
        var result = await new BenchRunner(server.AdminConnectionString, options, _ => { }, server.Binaries).RunAsync(TestContext.Current.CancellationToken);

        BenchReport.Write(result, dir);
        BenchReport.Write(result, dir); // a second run replaces its own section instead of adding another

        var md = await File.ReadAllTextAsync(Path.Combine(dir, "benchmarks.md"));
        Assert.Contains("## Migration\n\nmigration figures stay", md);
        Assert.Equal(1, CountOf(md, "## Query benchmarks"));
        Assert.Contains("### Where we stand against the targets", md);
        Assert.Contains("#### Top-20 open todos — heavy users", md);
        Assert.Contains(options.CommandLine, md);
        var png = await File.ReadAllBytesAsync(Path.Combine(dir, "bench-latency-top20.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(File.Exists(Path.Combine(dir, "bench-throughput.png")));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task history_growth_measures_small_and_grown_history_in_the_same_rounds_and_leaves_the_archive_whole()
    {
        var options = SmallRun(Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}")) with
        {
            Clients = [1], Rounds = 1, GrowthRounds = 2, Operations = false, Queries = [QueryKind.Top20, QueryKind.ListWithArchive, QueryKind.ArchivedById], GrowTo = 8_000,
        };
        var runner = new BenchRunner(server.AdminConnectionString, options, _ => { }, server.Binaries);
        var result = await runner.RunAsync(TestContext.Current.CancellationToken);

        var grown = Assert.Single(result.Stages, s => s.Key == BenchRunner.StageGrown);
        Assert.Equal([BenchLayouts.IndexedSmall.Key, BenchLayouts.IndexedGrown.Key, BenchLayouts.FinalSmall.Key, BenchLayouts.FinalGrown.Key], grown.Layouts.Select(l => l.Key));
        foreach (var layout in grown.Layouts)
        {
            Assert.True(result.Cell(grown.Key, layout.Key, QueryKind.Top20, UserSets.Skewed, 1) is { Stats.Count: > 0 }, $"no measurement for {layout.Key}");
            Assert.True(result.Cell(grown.Key, layout.Key, QueryKind.ArchivedById, UserSets.Heavy, 1) is { Stats.Count: > 0 }, $"no GET by id for {layout.Key}");
            Assert.True(result.Cell(grown.Key, layout.Key, QueryKind.ListSameAnswer, UserSets.Skewed, 1) is { Stats.Count: > 0 }, $"no same-answer list for {layout.Key}");
        }

        // Only the growth stage measures the list at the same answer size. The skewed users' archive pages fill up as the
        // history grows; the heavy users' are full in both.
        Assert.DoesNotContain(result.Cells, c => c.Query == QueryKind.ListSameAnswer && c.Stage != BenchRunner.StageGrown);
        Assert.True(result.ArchivePageRows[UserSets.Skewed] is var (skewedSmall, skewedGrown) && skewedSmall > 0 && skewedGrown > skewedSmall,
            $"skewed archive page rows: {result.ArchivePageRows[UserSets.Skewed]}");
        Assert.Equal((51.0, 51.0), result.ArchivePageRows[UserSets.Heavy]);

        // The growth stage's targets are ratios of 1-client medians: its cells take the median of their own rounds.
        Assert.All(result.Cells, c => Assert.Equal(c.Stage == BenchRunner.StageGrown ? 2 : 1, c.Rounds));
        Assert.Contains("2 rounds in the history-growth stage", BenchReport.Markdown(result, []));

        // The GET by id asks each user for one of their archived todos, and every layout returns that same row.
        var byId = Assert.Single(result.Checks, c => c.Query == QueryKind.ArchivedById);
        Assert.True(byId is { Users: > 0, Mismatches: 0 }, $"GET by id answers: {byId}");
        var targets = BenchReport.Markdown(result, []).Split('\n').Single(l => l.StartsWith("| Archive with ", StringComparison.Ordinal));
        Assert.Contains("Archived todo by id (≤ 1.2×), heavy", targets);
        Assert.Contains("List including the archive, same answer size (≤ 1.2×), skewed", targets);
        Assert.Contains("the application's list, skewed", targets);

        Assert.True(result.HistoryYears >= 1);
        Assert.True(result.GrownRows >= options.GrowTo, $"grew to {result.GrownRows} rows only");

        // The run ends with the grown history attached; detaching it gives back exactly the migrated archive.
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = options.DatabaseName }.ConnectionString;
        await using var db = Npgsql.NpgsqlDataSource.Create(cs);
        async Task<long> ArchivedAsync() => (long)(await db.CreateCommand("SELECT count(*) FROM todos_archived").ExecuteScalarAsync())!;
        Assert.Equal(result.Data!.ArchivedRows * (1 + result.HistoryYears), await ArchivedAsync());
        Assert.Equal(result.HistoryYears * 12, (int)(await db.CreateCommand("SELECT bench_set_history(false)").ExecuteScalarAsync())!);
        Assert.Equal(result.Data.ArchivedRows, await ArchivedAsync());
        Assert.Equal(result.GrownRows - result.Data.Rows, result.Data.ArchivedRows * result.HistoryYears);

        // Each state comes with its own record of the months that hold a user's archived rows (009), so the archive page
        // of the small history walks the original months only, and answers in both states as one plain statement does.
        async Task<long> CountAsync(string sql) => (long)(await db.CreateCommand(sql).ExecuteScalarAsync())!;
        const string RowsNotListed = "SELECT count(*) FROM (SELECT user_id, todoscale_month_start(completed_at) FROM todos_archived EXCEPT SELECT user_id, month FROM todos_archived_months) x";
        const string MonthsWithoutRows = "SELECT count(*) FROM (SELECT user_id, month FROM todos_archived_months EXCEPT SELECT user_id, todoscale_month_start(completed_at) FROM todos_archived) x";
        const string PagesThatDiffer = """
            SELECT count(*) FROM bench_pick p
            WHERE p.n <= 40
              AND ARRAY(SELECT id FROM todoscale_archived_page(p.user_id, NULL, NULL, NULL, NULL, NULL, NULL, 51))
                  IS DISTINCT FROM ARRAY(SELECT a.id FROM todos_archived a WHERE a.user_id = p.user_id ORDER BY a.completed_at DESC, a.id DESC LIMIT 51)
            """;
        foreach (var attached in new[] { false, true })
        {
            await db.CreateCommand($"SELECT bench_set_history({(attached ? "true" : "false")})").ExecuteScalarAsync();
            Assert.Equal((attached, 0L, 0L, 0L), (attached, await CountAsync(RowsNotListed), await CountAsync(MonthsWithoutRows), await CountAsync(PagesThatDiffer)));
            // Both states' recent rows are hash-partitioned as 009 makes them (the parked copy too), so both are read,
            // and kept up by cluster_partitions(), alike.
            Assert.Equal((attached, 16L), (attached, await CountAsync("SELECT count(*) FROM pg_inherits WHERE inhparent = 'todos_archived_recent'::regclass")));
        }

        // The same-answer list returns, in both histories, each user's open todos and as many archived ones as their
        // page held in the original history; the application's list returns more of them in the grown one.
        var pick = (await SkewedUsersAsync(db)).Where(runner.QueryContext.ArchivePageRows.ContainsKey).Take(20).ToList();
        Assert.NotEmpty(pick);
        var rowsOf = new Dictionary<(bool Attached, QueryKind Query, Guid User), int>();
        foreach (var attached in new[] { false, true })
        {
            await db.CreateCommand($"SELECT bench_set_history({(attached ? "true" : "false")})").ExecuteScalarAsync();
            foreach (var query in new[] { QueryKind.ListSameAnswer, QueryKind.ListWithArchive })
            {
                var statements = BenchQueries.Statements(query, LayoutKind.TodoScale, "todos", runner.QueryContext);
                foreach (var user in pick)
                {
                    var answer = await LoadDriver.AnswerAsync(db, [statements[1]], user, TestContext.Current.CancellationToken);
                    rowsOf[(attached, query, user)] = answer.Split('\n').Count(l => l.Length > 0 && l != "--");
                }
            }
        }

        Assert.All(pick, user => Assert.Equal(
            (user, runner.QueryContext.ArchivePageRows[user], runner.QueryContext.ArchivePageRows[user]),
            (user, rowsOf[(false, QueryKind.ListSameAnswer, user)], rowsOf[(true, QueryKind.ListSameAnswer, user)])));
        Assert.Contains(pick, user => rowsOf[(true, QueryKind.ListWithArchive, user)] > rowsOf[(false, QueryKind.ListWithArchive, user)]);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task pgbench_measures_the_top20_statement_of_every_layout_end_to_end_and_the_report_shows_it()
    {
        var options = SmallRun(Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}")) with
        {
            Clients = [1], Rounds = 1, Operations = false, Queries = [QueryKind.Top20], PgBench = true,
        };
        var result = await new BenchRunner(server.AdminConnectionString, options, _ => { }, server.Binaries).RunAsync(TestContext.Current.CancellationToken);

        // One pgbench run per stage, layout and user set, each with transactions done and a statement latency parsed.
        foreach (var stage in result.Stages)
        {
            foreach (var layout in stage.Layouts)
            {
                foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
                {
                    var cell = Assert.Single(result.PgBench, p => p.Stage == stage.Key && p.Layout.Key == layout.Key && p.UserSet == set);
                    Assert.True(cell.Result.Tps > 0 && cell.Result.StatementLatencyMs > 0, $"pgbench {stage.Key}/{layout.Key}/{set}: {cell.Result}");
                }
            }
        }

        Assert.Contains(result.PgBench, p => p.Layout.Key == BenchLayouts.Tuned.Key);
        var md = BenchReport.Markdown(result, []);
        Assert.Contains("pgbench", md);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task pgbench_output_gives_tps_and_the_latency_of_the_last_statement_even_when_truncated()
    {
        // Yield first, so the body runs on the pool and the Timeout can end it should it never return.
        await Task.Yield();
        const string output = """
            latency average = 0.736 ms
            initial connection time = 20.430 ms
            tps = 1358.495978 (without initial connection time)
            statement latencies in milliseconds and failures:
                     0.001           0  \set n random(1, :npick)
                     0.370           0  SELECT user_id AS uid FROM bench_pick WHERE n = :n
                     0.564           0  SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority, cre
            """;

        var r = PgBenchRunner.Parse(output);

        Assert.Equal(1358.495978, r.Tps, 6);
        Assert.Equal(0.564, r.StatementLatencyMs, 6);
        Assert.Equal(0.736, r.AverageLatencyMs, 6);
    }

    private static async Task<List<Guid>> SkewedUsersAsync(Npgsql.NpgsqlDataSource db)
    {
        var users = new List<Guid>();
        await using var reader = await db.CreateCommand("SELECT user_id FROM bench_pick ORDER BY n").ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            users.Add(reader.GetGuid(0));
        }

        return users;
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }
}
