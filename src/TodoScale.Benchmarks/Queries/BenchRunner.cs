using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Simulation.LegacyData;
using TodoScale.Database.Maintenance;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;

namespace TodoScale.Benchmarks;

/// <summary>
/// One benchmark run: creates its own database on the server, generates the legacy data, builds both baselines
/// and the TodoScale layout from the same rows, measures every layout in the same run (interleaved, so that the
/// machine's background noise hits all of them alike), and returns the figures for the report.
/// </summary>
public sealed partial class BenchRunner(string serverConnectionString, BenchOptions options, Action<string> log, PostgresBinaries? binaries = null)
{
    public const string StageMigrated = "migrated";
    public const string StageMaintained = "maintained";
    public const string StageGrown = "grown";

    // The runner's default: one committed transaction per 5,000 rows, as `todoscale migrate run` does.
    private const int MigrationBatchSize = 5_000;

    /// <summary>Pool of the benchmark's own client connections: one per client, up to 128 clients, and the runner's own.</summary>
    internal const int ClientPoolSize = 200;

    // Replaced after the migration and again after maintenance, once the archive's contents are known.
    private BenchQueryContext _queries = BenchQueryContext.Default;

    /// <summary>The values the run's statements were bound with besides the user (the clock, the per-user values).</summary>
    public BenchQueryContext QueryContext => _queries;

    private readonly Lazy<PostgresBinaries> _binaries = new(() => binaries ?? PostgresBinaries.Locate());

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        options.Validate();
        // Measured before anything of ours runs, so the report can say whether other jobs shared the machine.
        var busyBefore = await BackgroundBusyAsync(ct);
        var started = Stopwatch.StartNew();
        var cs = await CreateDatabaseAsync(ct);
        await using var admin = NpgsqlDataSource.Create(cs);
        var result = new BenchResult
        {
            Options = options,
            Machine = await MachineAsync(admin, ct),
            StartedUtc = DateTime.UtcNow,
            BackgroundBusyBefore = busyBefore,
        };

        await PrepareDataAsync(admin, cs, result, ct);
        await SetQueryContextAsync(admin, ct);
        var skewed = await UsersAsync(admin, "SELECT user_id FROM bench_pick ORDER BY n", ct);
        var heavy = await UsersAsync(admin, "SELECT user_id FROM bench_heavy ORDER BY n", ct);
        var sets = new[] { (UserSets.Skewed, "bench_pick", skewed), (UserSets.Heavy, "bench_heavy", heavy) };

        var migrated = new BenchStage(StageMigrated, "As migrated (rows in migration order), all tables vacuumed",
            [BenchLayouts.Legacy, BenchLayouts.Indexed, BenchLayouts.TodoScaleCustom, BenchLayouts.TodoScaleGeneric]);
        await MeasureStageAsync(cs, migrated, sets, result, ct);

        await MaintainAsync(admin, cs, result, ct);
        await SetQueryContextAsync(admin, ct);
        var maintained = new BenchStage(StageMaintained, "After maintenance: active partitions and archive months clustered by user, vacuumed",
            [BenchLayouts.LegacyPkOnly, BenchLayouts.Legacy, BenchLayouts.Indexed, BenchLayouts.IndexedGeneric, BenchLayouts.Tuned, BenchLayouts.Covering, BenchLayouts.Final]);
        await CheckAnswersAsync(cs, maintained.Layouts.Concat(migrated.Layouts).DistinctBy(l => l.Key).ToList(), skewed, heavy, result, ct);
        await MeasureStageAsync(cs, maintained, sets, result, ct);
        await ExplainAsync(admin, heavy[0], result, ct);

        if (options.Api)
        {
            // On the final layout (clustered; the API's data source sets force_generic_plan itself), before anything
            // changes the archive. The API gets the server's connection string as `todoscale serve` would, not the
            // runner's own (no command timeout, a pool of 200).
            var apiCs = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = options.EffectiveDatabaseName }.ConnectionString;
            await new ApiStage(apiCs, options, log).RunAsync(result, [(UserSets.Skewed, skewed), (UserSets.Heavy, heavy)], ct);
        }

        if (options.Operations)
        {
            await OperationsAsync(admin, cs, result, ct);
        }

        if (options.HistoryYears > 0 || options.GrowTo > 0)
        {
            await GrowHistoryAsync(admin, cs, result, ct);
            var grownPages = await ArchivePageRowsAsync(admin, ct);
            foreach (var (name, _, users) in sets)
            {
                result.ArchivePageRows[name] = (users.Average(u => _queries.ArchivePageRows.GetValueOrDefault(u)), users.Average(u => grownPages.GetValueOrDefault(u)));
            }

            // Small and grown history take turns within every round (the archive's added months are detached and
            // re-attached between turns; (b) has a grown twin table), so the ratio compares measurements seconds apart.
            // The list is measured twice: as the application asks (its archive page fills up as history grows) and
            // with each user's archive page as long as in the original history (the months' cost alone).
            var grown = new BenchStage(StageGrown,
                $"History growth: {result.Data!.Rows:N0} and {result.GrownRows:N0} rows in all ({result.HistoryYears} more years of finished todos), same open todos, measured in alternation",
                [BenchLayouts.IndexedSmall, BenchLayouts.IndexedGrown, BenchLayouts.FinalSmall, BenchLayouts.FinalGrown],
                [.. options.Queries.SelectMany(q => q == QueryKind.ListWithArchive ? [q, QueryKind.ListSameAnswer] : new[] { q })],
                PairedTurns: true);
            await MeasureStageAsync(cs, grown, sets, result, ct, pgbench: false, stageRounds: options.GrowthRounds);
            await ExecAsync(admin, "SELECT bench_set_history(true)", ct);
        }

        result.Total = started.Elapsed;
        result.BackgroundBusyAfter = await BackgroundBusyAsync(ct);
        return result;
    }

    // The machine's busy share over 3 s while this run does nothing: what other jobs take from the cores.
    private static async Task<double?> BackgroundBusyAsync(CancellationToken ct)
    {
        var before = ProcCpu.MachineCpu();
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var after = ProcCpu.MachineCpu();
        if (before is not { } b || after is not { } a || a.Total <= b.Total)
        {
            return null;
        }

        return (double)(a.Busy - b.Busy) / (a.Total - b.Total);
    }

    private async Task SetQueryContextAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT max(completed_at) FROM todos_archived");
        var archivedThrough = await cmd.ExecuteScalarAsync(ct) is DateTime t ? t : (DateTime?)null;
        // Picked while the archive holds the original history only (this runs before the growth stage), so the GET by
        // id asks for a todo both the small and the grown history hold, in a month chosen by the hash of its id.
        var archived = new Dictionary<Guid, Guid>();
        await using (var pick = db.CreateCommand("""
            SELECT DISTINCT ON (a.user_id) a.user_id, a.id
            FROM todos_archived a
            WHERE a.user_id IN (SELECT user_id FROM bench_pick UNION SELECT user_id FROM bench_heavy)
            ORDER BY a.user_id, md5(a.id::text)
            """))
        {
            pick.CommandTimeout = 0;
            await using var reader = await pick.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                archived[reader.GetGuid(0)] = reader.GetGuid(1);
            }
        }

        _queries = BenchQueryContext.At(_queries.Now, archivedThrough) with { ArchivedTodos = archived, ArchivePageRows = await ArchivePageRowsAsync(db, ct) };
    }

    // How many rows the first page of each benchmark user's archive holds now (at most the application's page; users
    // without archived todos: 0). One hash join over the archive, not a probe per user: at 300 months a probe that cannot
    // prune would descend every month's index.
    private static async Task<Dictionary<Guid, int>> ArchivePageRowsAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var rows = new Dictionary<Guid, int>();
        await using var cmd = db.CreateCommand("""
            SELECT u.user_id, least(count(a.id), $1)::int
            FROM (SELECT user_id FROM bench_pick UNION SELECT user_id FROM bench_heavy) u
            LEFT JOIN todos_archived a ON a.user_id = u.user_id
            GROUP BY u.user_id
            """);
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BenchQueries.ListLimit });
        cmd.CommandTimeout = 0;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows[reader.GetGuid(0)] = reader.GetInt32(1);
        }

        return rows;
    }

    private async Task<string> CreateDatabaseAsync(CancellationToken ct)
    {
        var name = options.EffectiveDatabaseName;
        // No command timeout: on a loaded machine the ANALYZE after generating 1M rows, an index build or a VACUUM can
        // exceed Npgsql's default 30 s, which aborts the whole run with "Exception while reading from stream".
        var cs = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name, MaxPoolSize = ClientPoolSize, Pooling = true, CommandTimeout = 0 }.ConnectionString;
        var databases = new BenchDatabases(serverConnectionString);
        var present = await databases.ExistsAsync(name, ct);
        if (present && options.Reuse && await IsCompleteAsync(cs, ct))
        {
            log($"reusing the legacy data in database {name}");
            return cs;
        }

        if (present)
        {
            await databases.DropAsync(name, ct);
            // The check above left a pooled connection to the dropped database; handing it out later fails with 57P01.
            NpgsqlConnection.ClearAllPools();
        }

        await databases.CreateAsync(name, null, ct);
        log($"created database {name}");
        return cs;
    }

    private async Task<bool> IsCompleteAsync(string cs, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT to_regclass('bench_heavy') IS NOT NULL AND to_regclass('bench_todos_covering') IS NOT NULL AND to_regclass('todos') IS NOT NULL", conn);
        if (await cmd.ExecuteScalarAsync(ct) is not true)
        {
            return false;
        }

        await using var count = new NpgsqlCommand("SELECT count(*) FROM todos", conn);
        return (long)(await count.ExecuteScalarAsync(ct))! == options.Rows;
    }

    private async Task PrepareDataAsync(NpgsqlDataSource db, string cs, BenchResult result, CancellationToken ct)
    {
        var reused = await ScalarAsync<bool>(db, "SELECT to_regclass('bench_heavy') IS NOT NULL", ct);
        if (!reused)
        {
            await StepAsync(result, "generate legacy database (binary COPY)", async () =>
            {
                await using var conn = await db.OpenConnectionAsync(ct);
                await LegacyDatabase.CreateSchemaAsync(conn, ct);
                var summary = await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = options.Rows, Users = options.Users, Seed = options.Seed },
                    new Progress<long>(n =>
                    {
                        if (n % 250_000 == 0)
                        {
                            log($"  {n:N0} rows");
                        }
                    }), ct);
                return $"{summary.Todos:N0} todos, {summary.Users:N0} users ({summary.Todos / Math.Max(0.001, summary.Elapsed.TotalSeconds):N0} rows/s)";
            });
            await StepAsync(result, "VACUUM ANALYZE todos (baseline a)", () => ExecAsync(db, "VACUUM ANALYZE todos", ct));
            await StepAsync(result, "baselines (b), (b+), (b*): copies + indexes + VACUUM ANALYZE", async () =>
            {
                await ExecAsync(db, EmbeddedSql("single_table_baseline.sql"), ct);
                return await ExecAsync(db, "VACUUM ANALYZE bench_todos_indexed, bench_todos_covering, bench_todos_tuned", ct);
            });
            await StepAsync(result, "pick the benchmark users", () => ExecAsync(db, EmbeddedSql("bench_users.sql"), ct));
        }
        else
        {
            // An earlier run's history growth added years of done todos to (b); left there, (b) would hold more rows
            // than the legacy table and the TodoScale layout, and the answer check fails on the list and dashboard.
            await StepAsync(result, "baseline (b): remove an earlier run's history growth", async () =>
            {
                var removed = await ExecAsync(db, "DELETE FROM bench_todos_indexed b WHERE NOT EXISTS (SELECT 1 FROM todos t WHERE t.id = b.id)", ct);
                await ExecAsync(db, "VACUUM ANALYZE bench_todos_indexed", ct);
                return removed;
            });
            // Data from a version without (b*) or (b)'s list index gets them; the script changes nothing that is there.
            await StepAsync(result, "baselines (b), (b+), (b*): complete what an earlier version left", async () =>
            {
                await ExecAsync(db, EmbeddedSql("single_table_baseline.sql"), ct);
                return await ExecAsync(db, "VACUUM ANALYZE bench_todos_indexed, bench_todos_tuned", ct);
            });
        }

        // The guide's order: create the tables (phase 1), move the data (phase 2), then build the indexes (phase 5).
        // Filling 16 partitions that already carry every index costs several times more than indexing them after.
        // So 001 and 002 (definitions only, as under the migrator) are applied here, the data is moved by the
        // application's own MigrationRunner, and only then does the SchemaMigrator apply the rest (003, 005).
        await StepAsync(result, "TodoScale tables (001) and migration functions (002)", async () =>
        {
            if (reused)
            {
                // A re-run starts from freshly created, empty tables and a migration that has not started; without
                // dropping migration_state the runner would find it 'migrated' and move nothing into the new tables.
                // 009's record of where archived rows are goes too: kept, it would list the earlier run's months (and
                // its grown history's) for the same users, and the archive page would walk months that hold nothing.
                await ExecAsync(db, "DROP TABLE IF EXISTS todos_active, todos_archived, migration_state, migration_progress, " +
                                    "todos_archived_months, todos_archived_locator, todoscale_archive_index_backfilled, bench_months_small, bench_months_grown, " +
                                    "todos_archived_recent, todos_archived_recent_floor, todoscale_archive_recent_state, todoscale_archive_recent_backfilled, " +
                                    "bench_recent_small, bench_recent_grown, bench_recent_floor_small, bench_recent_floor_grown CASCADE", ct);
            }

            await ExecAsync(db, ScalingScripts.Read("001_create_partitioned_tables.sql"), ct);
            // todoscale.migrator = on makes 002 install its definitions only, as our migrator does; without it the
            // script's psql path would CALL the whole migration, which cannot COMMIT per batch inside this command.
            // Its transactional part only, as the migrator sends it: the index-plan section is psql's \gexec (and has
            // nothing to build before 005 is installed and a migration completed).
            const string script = "002_migrate_existing_data.sql";
            var definitions = ScriptSections.Parse(script, ScalingScripts.Read(script)).TransactionalSql;
            return await ExecAsync(db, "SET todoscale.migrator = on;\n" + definitions + "\nRESET todoscale.migrator;", ct);
        });
        result.MigrationSource = $"the application's MigrationRunner (migrations/scaling/002 migrate_todos_batch, {MigrationBatchSize:N0} rows per committed batch)";
        await StepAsync(result, "migrate legacy -> TodoScale (MigrationRunner, 002 migrate_todos_batch)", async () =>
        {
            var run = await new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = MigrationBatchSize },
                new Progress<MigrationProgress>(p =>
                {
                    if (p.Batches % 50 == 0 && !p.Completed)
                    {
                        log($"  {p.RowsDone:N0} / {p.RowsTotal:N0} rows");
                    }
                }), ct);
            if (!run.Completed)
            {
                throw new InvalidOperationException($"the migration stopped before moving every row (state {run.Status.State})");
            }

            return $"{run.RowsMovedThisRun:N0} rows in {run.BatchesThisRun:N0} batches ({run.RowsPerSecond:N0} rows/s, {run.Retries} retries)";
        });
        await StepAsync(result, "TodoScale schema scripts through the migrator (005 builds the indexes)", async () =>
        {
            var applied = await new SchemaMigrator(cs).MigrateAsync(ct: ct);
            if (reused)
            {
                // The journal already lists 005 and 009 on reused data; the idempotent scripts rebuild the dropped indexes,
                // and 009 its triggers on the new todos_archived and its tables, recording the rows just migrated.
                await new SchemaMigrator(cs).ReapplyAsync("005_indexing_optimization.sql", ct);
                await new SchemaMigrator(cs).ReapplyAsync("009_archive_constant_cost.sql", ct);
            }

            return applied.Count == 0 ? "up to date" : string.Join(", ", applied);
        });

        // As an operator finishes phase 2: validate and cut over. Left 'migrated', cluster_partitions() skips every
        // partition (a mirrored legacy write would wait for each rewrite), and the "clustered" layout of the run
        // would be in migration order: the run of 2026-12-02 measured that by mistake ("0 partitions clustered").
        await StepAsync(result, "migration cutover (002 migration_cutover: validate_migration, then the switch)",
            async () => await ScalarAsync<string>(db, "SELECT state || ': ' || detail FROM migration_cutover()", ct));
        await StepAsync(result, "VACUUM ANALYZE todos_active, todos_archived",
            () => ExecAsync(db, "VACUUM ANALYZE todos_active, todos_archived", ct));
        result.Data = await ShapeAsync(db, ct);
        log($"data: {result.Data.Rows:N0} rows, {result.Data.ActiveRows:N0} active, {result.Data.ArchivedRows:N0} archived in {result.Data.ArchiveMonths} months");
    }

    private async Task MaintainAsync(NpgsqlDataSource db, string cs, BenchResult result, CancellationToken ct)
    {
        // The application's own maintenance, as the scheduler runs it: the daily job (archival, partitions ahead,
        // VACUUM of what archival touched), then the weekly job, which ends with cluster_partitions() (006): each
        // active partition and each closed archive month whose rows are no longer grouped by user is CLUSTERed, one
        // partition lock at a time, then vacuumed. Grouping each user's rows on a few heap pages is what lets the
        // top-20 query, the dashboard and the list read one or two pages instead of one page per row.
        result.MaintenanceSource = "the application's MaintenanceRunner: the daily job (003), then the weekly job (003 + 006 cluster_partitions), then VACUUM ANALYZE";
        var runner = new MaintenanceRunner(cs);
        await StepAsync(result, "maintenance: daily job (run_daily_maintenance + VACUUM)", async () => Summary(await runner.RunDailyAsync(ct)));
        await StepAsync(result, "maintenance: weekly job (run_weekly_maintenance + CALL cluster_partitions + VACUUM)", async () =>
        {
            var weekly = await runner.RunWeeklyAsync(ct);
            // Each partition is clustered in its own transaction: the longest of those steps is TodoScale's longest lock.
            var longest = weekly.Cluster?.Steps.Where(s => s.Detail?.StartsWith("clustered", StringComparison.OrdinalIgnoreCase) == true)
                .OrderByDescending(s => s.DurationMs).FirstOrDefault();
            if (longest is not null)
            {
                result.PartitionClusterLock = (TimeSpan.FromMilliseconds((double)longest.DurationMs), longest.Step);
            }

            return Summary(weekly);
        });
        await StepAsync(result, "maintenance: VACUUM ANALYZE todos_active, todos_archived",
            () => ExecAsync(db, "VACUUM ANALYZE todos_active, todos_archived", ct));
        // The peer's same upkeep: its rows grouped by user as cluster_partitions() groups each partition's. CLUSTER holds
        // an ACCESS EXCLUSIVE lock on the whole table for the whole rewrite; its duration is the peer's longest lock.
        var peerCluster = Stopwatch.StartNew();
        await StepAsync(result, "peer upkeep: CLUSTER (b*) bench_todos_tuned by user (whole-table lock)", () => ExecAsync(db, EmbeddedSql("single_table_tuned_cluster.sql"), ct));
        result.PeerClusterLock = peerCluster.Elapsed;
        await StepAsync(result, "peer upkeep: VACUUM ANALYZE bench_todos_tuned", () => ExecAsync(db, "VACUUM ANALYZE bench_todos_tuned", ct));

        static string Summary(MaintenanceRun run)
        {
            EnsureCompleted(run);
            var clustered = run.Cluster?.Steps.Count(s => s.Detail?.StartsWith("clustered", StringComparison.OrdinalIgnoreCase) == true);
            return $"{run.AllSteps.Count()} steps OK" + (clustered is null ? "" : $", {clustered} partitions clustered");
        }
    }

    // A bench on a half-maintained database would measure a layout nobody runs: a failed or skipped run stops it.
    private static void EnsureCompleted(MaintenanceRun run)
    {
        if (run.Failed || run.Skipped)
        {
            throw new InvalidOperationException($"maintenance {run.Job} did not complete: " +
                string.Join("; ", run.AllSteps.Where(s => s.Status != "OK").Select(s => $"{s.Step} {s.Status} {s.Detail}")));
        }
    }

    private async Task GrowHistoryAsync(NpgsqlDataSource db, string cs, BenchResult result, CancellationToken ct)
    {
        var years = options.HistoryYears;
        if (options.GrowTo > 0)
        {
            // Each added year copies today's archive, so the years needed follow from its size.
            var archived = await ScalarAsync<long>(db, "SELECT count(*) FROM todos_archived", ct);
            years = (int)Math.Clamp(Math.Ceiling((options.GrowTo - result.Data!.Rows) / (double)Math.Max(1, archived)), 1, BenchOptions.MaxHistoryYears);
        }

        result.HistoryYears = years;
        await StepAsync(result, $"history growth: +{years} years of archived todos in the archive (detachable months) and in a grown copy of (b)", async () =>
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using (var set = new NpgsqlCommand("SELECT set_config('bench.history_years', $1, false)", conn))
            {
                set.Parameters.Add(new NpgsqlParameter { Value = years.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                await set.ExecuteNonQueryAsync(ct);
            }

            await using var grow = new NpgsqlCommand(EmbeddedSql("grow_history.sql"), conn) { CommandTimeout = 0 };
            await grow.ExecuteNonQueryAsync(ct);
            return "";
        });
        // todos_archived_recent: the added history passed through it (its triggers) and the trims left most of it dead,
        // 5x its live rows (2.0M rows in 1,025 MB against 322 MB compact, run of 2026-12-03 07:14). A production database
        // would not hold it so: there archival adds a few rows per user a day and autovacuum hands the trimmed space to
        // the next ones, keeping the file near its live size. VACUUM FULL compacts it in its present order; then the
        // weekly job's cluster_partitions() (006), as the small history got it in the maintenance stage, puts any of its
        // 16 partitions whose rows are no longer grouped by user back in order (the bulk load writes them grouped, so it
        // usually finds them in order), and leaves the months added in user order as they are.
        await StepAsync(result, "VACUUM FULL todos_archived_recent (the bulk-loaded history's dead rows)",
            () => ExecAsync(db, "VACUUM FULL todos_archived_recent", ct));
        await StepAsync(result, "VACUUM ANALYZE todos_archived, todos_archived_recent, bench_todos_grown",
            () => ExecAsync(db, "VACUUM ANALYZE todos_archived, todos_archived_recent, bench_todos_grown", ct));
        await StepAsync(result, "maintenance: CALL cluster_partitions() on the grown history (+ VACUUM of what it clustered)", async () =>
        {
            var run = await new MaintenanceRunner(cs).RunClusterAsync(ct: ct);
            EnsureCompleted(run);
            var clustered = run.Steps.Where(s => s.Detail?.StartsWith("clustered", StringComparison.OrdinalIgnoreCase) == true).ToList();
            return $"{clustered.Count} clustered ({clustered.Count(s => s.Step.StartsWith("todos_archived_recent_", StringComparison.Ordinal))} of them " +
                   $"todos_archived_recent's), longest {(clustered.Count == 0 ? 0 : clustered.Max(s => s.DurationMs)):N0} ms";
        });
        result.GrownRows = await ScalarAsync<long>(db, "SELECT count(*) FROM bench_todos_grown", ct);
        log($"grown to {result.GrownRows:N0} rows");
    }

    private async Task MeasureStageAsync(string cs, BenchStage stage, (string Name, string Table, Guid[] Users)[] sets, BenchResult result, CancellationToken ct, bool pgbench = true, int? stageRounds = null)
    {
        result.Stages.Add(stage);
        var sources = stage.Layouts.ToDictionary(l => l.Key, l => NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(cs) { Options = l.ConnectionOptions, MaxPoolSize = ClientPoolSize }.ConnectionString));
        try
        {
            var seed = options.Seed;
            foreach (var query in stage.QueriesOf(options))
            {
                foreach (var (setName, _, all) in sets)
                {
                    var users = _queries.UsersFor(query, all);
                    if (users.Length == 0)
                    {
                        log($"  [{stage.Key}] {BenchQueries.Key(query)} {setName}: no user of the set has an archived todo; not measured");
                        continue;
                    }

                    foreach (var clients in options.Clients)
                    {
                        // Layouts take turns within each round, so that a noisy neighbour hits them alike, in an order
                        // rotated each round (TurnOrder); each cell reports the median of its rounds.
                        var layouts = stage.Layouts.Where(l => clients <= l.MaxClients).ToList();
                        var rounds = layouts.ToDictionary(l => l.Key, _ => new List<LatencyStats>());
                        for (var round = 0; round < (stageRounds ?? options.Rounds); round++)
                        {
                            // One seed for every layout of the round: each measures the same users in the same order.
                            var roundSeed = seed++;
                            foreach (var layout in stage.PairedTurns ? TurnOrder.Paired(layouts, round) : TurnOrder.ForRound(layouts, round))
                            {
                                if (layout.Setup is { } setup)
                                {
                                    await using var prepare = NpgsqlDataSource.Create(cs);
                                    await ExecAsync(prepare, setup, ct);
                                }

                                var statements = BenchQueries.Statements(query, layout.Kind, layout.Table, _queries);
                                rounds[layout.Key].Add(await LoadDriver.RunAsync(sources[layout.Key], statements, users, clients, options.Warmup, options.Duration, roundSeed, ct));
                            }
                        }

                        foreach (var layout in layouts)
                        {
                            var stats = LatencyStats.MedianOf(rounds[layout.Key]);
                            result.Cells.Add(new CellResult(stage.Key, layout, query, setName, clients, stats) { Rounds = stageRounds ?? options.Rounds });
                            log($"  [{stage.Key}] {BenchQueries.Key(query),-9} {setName,-6} c={clients,-3} {layout.Key,-20} p50 {stats.P50Ms,8:F3} ms  p99 {stats.P99Ms,8:F3} ms  {stats.PerSecond,9:N0}/s");
                        }
                    }
                }
            }

            if (options.PgBench && pgbench)
            {
                foreach (var (setName, table, users) in sets)
                {
                    foreach (var clients in options.Clients)
                    {
                        foreach (var layout in stage.Layouts.Where(l => clients <= l.MaxClients))
                        {
                            var r = await PgBenchRunner.RunAsync(_binaries.Value.PgBench, cs, layout, table, users.Length, clients, options.Duration * options.Rounds / 2, ct);
                            result.PgBench.Add(new PgBenchCell(stage.Key, layout, setName, clients, r));
                            log($"  [{stage.Key}] pgbench top20 {setName,-6} c={clients,-3} {layout.Key,-20} {r.Tps,9:N0} tps  statement {r.StatementLatencyMs:F3} ms");
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var s in sources.Values)
            {
                await s.DisposeAsync();
            }
        }
    }

    private async Task StepAsync(BenchResult result, string step, Func<Task<string>> body)
    {
        log(step + " ...");
        var sw = Stopwatch.StartNew();
        var detail = await body();
        result.Steps.Add(new StepTiming(step, sw.Elapsed, detail));
        log($"  {sw.Elapsed.TotalSeconds:F1} s {detail}");
    }

    private static async Task<string> ExecAsync(NpgsqlDataSource db, string sql, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.CommandTimeout = 0;
        var n = await cmd.ExecuteNonQueryAsync(ct);
        return n > 0 ? $"{n:N0} rows" : "";
    }

    internal static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private static async Task<Guid[]> UsersAsync(NpgsqlDataSource db, string sql, CancellationToken ct)
    {
        var list = new List<Guid>();
        await using var cmd = db.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            list.Add(reader.GetGuid(0));
        }

        return [.. list];
    }

    internal static string EmbeddedSql(string name)
    {
        using var stream = typeof(BenchRunner).Assembly.GetManifestResourceStream($"TodoScale.Benchmarks.{name}")
            ?? throw new InvalidOperationException($"missing embedded script {name}");
        return new StreamReader(stream).ReadToEnd();
    }
}
