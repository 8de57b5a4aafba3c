using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

/// <summary>
/// 003_create_maintenance_jobs.sql became an entry file that includes one file per concern (maintenance/*.sql),
/// and 006 shares 003's VACUUM-statement helper. Operators run the scripts with psql -f and the migrator
/// journals them by name, so an installation of the single-file 003 must upgrade by running the scripts again
/// and then be indistinguishable from a fresh one. Resources/*.before_split.sql are 003 and 006 as they were
/// before the split (git show b42a95f:migrations/scaling/…), so this test needs nothing outside the repository.
/// </summary>
public sealed class MaintenanceSplitTests(PostgresServer server)
{
    private static readonly string[] Scripts =
    [
        "001_create_partitioned_tables.sql",
        "002_migrate_existing_data.sql",
        "003_create_maintenance_jobs.sql",
        "005_indexing_optimization.sql",
        "006_cluster_partitions.sql",
        "007_citus_ready_keys.sql",
        "008_replication.sql",
        "009_archive_constant_cost.sql",
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task an_installation_of_the_single_file_003_upgraded_with_psql_ends_up_with_exactly_the_schema_of_a_fresh_one()
    {
        var fresh = await server.CreateEmptyDatabaseAsync("split_fresh");
        foreach (var script in Scripts)
        {
            await RunAsync(fresh, Psql.ScriptPath(script));
        }

        var upgraded = await server.CreateEmptyDatabaseAsync("split_upgraded");
        foreach (var script in Scripts)
        {
            await RunAsync(upgraded, BeforeSplit(script) ?? Psql.ScriptPath(script));
        }

        var routinesBefore = await RoutinesAsync(upgraded);
        foreach (var script in Scripts)
        {
            await RunAsync(upgraded, Psql.ScriptPath(script));
        }

        var freshSchema = await PgDump.SchemaAsync(server.Binaries, fresh);
        var upgradedSchema = await PgDump.SchemaAsync(server.Binaries, upgraded);
        var freshRoutines = await RoutinesAsync(fresh);
        var upgradedRoutines = await RoutinesAsync(upgraded);

        Assert.Contains("CREATE PROCEDURE public.archive_completed_todos_in_batches", freshSchema);
        Assert.True(freshSchema == upgradedSchema, "pg_dump --schema-only differs, fresh (<) vs upgraded (>):\n" + Diff(freshSchema, upgradedSchema));
        // No leftover: a routine only the old 003 defined would still be there after CREATE OR REPLACE.
        // By name: the batch engine gave archive_completed_todos_in_batches more arguments, and 003 drops the old one.
        Assert.Empty(routinesBefore.Select(Name).Except(freshRoutines.Select(Name)));
        Assert.Equal(freshRoutines, upgradedRoutines);
        Assert.Equal(await SettingsAsync(fresh), await SettingsAsync(upgraded));

        // The old copies of the page walk and its retry loop are gone: both entry points now only step the
        // shared walk, and nothing but that walk calls a batch.
        await using var conn = await server.OpenAsync(upgraded);
        var callers = await StringsAsync(conn, """
            SELECT p.proname || ' -> ' || callee
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                 unnest(ARRAY['todoscale_archive_walk_next(', 'todoscale_archive_pages(', 'todoscale_archive_batch(',
                              'todoscale_archive_backlog_pages(', 'WHEN serialization_failure']) callee
            WHERE n.nspname = 'public' AND p.proname ~ 'archiv' AND strpos(p.prosrc, callee) > 0
            ORDER BY 1
            """);
        Assert.Equal(
        [
            "archive_completed_todos_in_batches -> todoscale_archive_walk_next(",
            "todoscale_archive -> todoscale_archive_walk_next(",
            "todoscale_archive_walk_next -> WHEN serialization_failure",
            "todoscale_archive_walk_next -> todoscale_archive_backlog_pages(",
            "todoscale_archive_walk_next -> todoscale_archive_batch(",
            "todoscale_archive_walk_next -> todoscale_archive_pages(",
        ], callers.Order(StringComparer.Ordinal));
        // One VACUUM-statement implementation behind the public functions of 003 and 006.
        Assert.Equal(["cluster_vacuum_statement", "maintenance_vacuum_statement"], await StringsAsync(conn, """
            SELECT proname FROM pg_proc WHERE strpos(prosrc, 'todoscale_vacuum_statement(') > 0 ORDER BY 1
            """));
        Assert.Equal(["todoscale_vacuum_statement"], await StringsAsync(conn, """
            SELECT proname FROM pg_proc WHERE prosrc ~ '''VACUUM ' ORDER BY 1
            """));
    }

    // The migrator sends script text to the server, which knows no \ir: it expands the includes itself
    // (ScriptIncludes) and must end up where psql does.
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_migrator_expanding_the_includes_itself_builds_the_same_schema_as_psql()
    {
        var psql = await server.CreateEmptyDatabaseAsync("split_psql");
        foreach (var script in Scripts)
        {
            await RunAsync(psql, Psql.ScriptPath(script));
        }

        var migrated = await server.CreateEmptyDatabaseAsync("split_migrator");
        var applied = await new SchemaMigrator(migrated).MigrateAsync(ct: Ct);

        Assert.Equal(Scripts, applied);
        // The migrator's journal and the scripts' checksums beside it are the one thing psql does not create.
        string[] withoutJournal = ["--exclude-table=" + SchemaMigrator.JournalTable + "*", "--exclude-table=todoscale_schema_checksums"];
        var fromPsql = await PgDump.SchemaAsync(server.Binaries, psql, withoutJournal);
        var fromMigrator = await PgDump.SchemaAsync(server.Binaries, migrated, withoutJournal);
        Assert.True(fromPsql == fromMigrator, "pg_dump --schema-only differs, psql (<) vs migrator (>):\n" + Diff(fromPsql, fromMigrator));
        Assert.Equal(await SettingsAsync(psql), await SettingsAsync(migrated));
    }

    private static string? BeforeSplit(string script)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Schema", "Resources", Path.ChangeExtension(script, ".before_split.sql"));
        return File.Exists(path) ? path : null;
    }

    private async Task RunAsync(string cs, string file)
    {
        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, file);
        Assert.True(code == 0, $"psql -f {file} exited {code}: {output}");
        Assert.DoesNotContain("ERROR", output);
    }

    // Every function and procedure of the public schema with its arguments: what DROP would need to name.
    private static string Name(string routine) => routine.Split('(')[0];

    private async Task<List<string>> RoutinesAsync(string cs)
    {
        await using var conn = await server.OpenAsync(cs);
        return await StringsAsync(conn, """
            SELECT p.prokind::text || ' ' || p.oid::regprocedure::text
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public'
            ORDER BY 1
            """);
    }

    private async Task<List<string>> SettingsAsync(string cs)
    {
        await using var conn = await server.OpenAsync(cs);
        return await StringsAsync(conn, "SELECT name || ' = ' || value || ' -- ' || description FROM maintenance_settings ORDER BY name");
    }

    private static async Task<List<string>> StringsAsync(NpgsqlConnection conn, string sql)
    {
        var rows = new List<string>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    // The differing middle of two texts (common leading and trailing lines cut), enough to read a failure.
    private static string Diff(string left, string right)
    {
        var a = left.Split('\n');
        var b = right.Split('\n');
        var head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[^(tail + 1)] == b[^(tail + 1)])
        {
            tail++;
        }

        return $"from line {head + 1}:\n"
            + string.Join('\n', a[head..^tail].Take(60).Select(l => "< " + l)) + "\n"
            + string.Join('\n', b[head..^tail].Take(60).Select(l => "> " + l));
    }
}
