namespace TodoScale.Cli.Tests;

public sealed class DbCommandTests(PostgresServer server)
{
    [Fact]
    public async Task db_migrate_prints_each_script_applied_and_then_reports_up_to_date()
    {
        var cs = await server.CreateEmptyDatabaseAsync("climigrate");

        var first = await Todoscale.RunAsync(["db", "migrate", "--database", cs]);
        var second = await Todoscale.RunAsync(["db", "migrate", "--database", cs]);

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("applied 001_create_partitioned_tables.sql", first.Stdout);
        Assert.Contains("applied 005_indexing_optimization.sql", first.Stdout);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("schema is up to date", second.Stdout);
        Assert.DoesNotContain("applied 001", second.Stdout);
    }

    [Fact]
    public async Task db_status_lists_pending_scripts_before_migrating_and_partitions_after()
    {
        var cs = await server.CreateEmptyDatabaseAsync("clistatus");

        var before = await Todoscale.RunAsync(["db", "status", "--database", cs]);
        await Todoscale.RunAsync(["db", "migrate", "--database", cs]);
        var after = await Todoscale.RunAsync(["db", "status", "--database", cs]);

        Assert.Equal(0, before.ExitCode);
        Assert.Matches(@"001_create_partitioned_tables\.sql\s*\|\s*pending", before.Stdout);
        Assert.Matches(@"001_create_partitioned_tables\.sql\s*\|\s*applied", after.Stdout);
        Assert.Matches(@"todos_active\s*\|\s*16\b", after.Stdout);
    }

    [Fact]
    public async Task the_database_can_be_named_by_url_through_the_environment()
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(await server.CreateEmptyDatabaseAsync("cliurl"));
        var url = $"postgresql://{cs.Username}@{cs.Host}:{cs.Port}/{cs.Database}";

        var result = await Todoscale.RunAsync(["db", "migrate"], new Dictionary<string, string?> { ["TODOSCALE_DATABASE"] = url });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("applied 001_create_partitioned_tables.sql", result.Stdout);
    }

    [Fact]
    public async Task a_malformed_database_url_is_a_usage_error_with_one_clear_line()
    {
        var result = await Todoscale.RunAsync(["db", "migrate", "--database", "postgresql://host:5432/db?colour=blue"]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("colour", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("migrate", "bogus")]
    [InlineData("demo", "--rows", "abc")]
    [InlineData("users", "add")]
    public async Task a_bad_argument_is_exit_2_with_an_error_line(params string[] args)
    {
        var result = await Todoscale.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
    }

    [Fact]
    public async Task an_unreachable_database_is_a_database_error()
    {
        var result = await Todoscale.RunAsync(["db", "migrate", "--database", "Host=127.0.0.1;Port=1;Database=x;Username=x;Timeout=2"]);

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
    }

    [Fact]
    public async Task without_postgresql_installed_the_built_in_database_names_the_package_to_install()
    {
        var dir = Directory.CreateTempSubdirectory("todoscale-nopg");
        try
        {
            var result = await Todoscale.RunAsync(["db", "start"],
                new Dictionary<string, string?> { ["TODOSCALE_PG_BIN"] = Path.Combine(dir.FullName, "no-such-bin") },
                workingDirectory: dir.FullName);

            Assert.Equal(4, result.ExitCode);
            Assert.Contains("apt-get install postgresql", result.Stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task the_built_in_database_starts_in_its_folder_is_reused_and_stops()
    {
        var dir = Directory.CreateTempSubdirectory("todoscale-local");
        // The server runs as postgres when the tests run as root; a 0700 temp folder would lock it out.
        File.SetUnixFileMode(dir.FullName, File.GetUnixFileMode(dir.FullName) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var env = new Dictionary<string, string?> { ["TODOSCALE_DATA_DIR"] = Path.Combine(dir.FullName, "pg") };
        try
        {
            var start = await Todoscale.RunAsync(["db", "start"], env, dir.FullName);
            var url = await Todoscale.RunAsync(["db", "url"], env, dir.FullName);
            var migrate = await Todoscale.RunAsync(["db", "migrate"], env, dir.FullName);
            var stop = await Todoscale.RunAsync(["db", "stop"], env, dir.FullName);
            var status = await Todoscale.RunAsync(["db", "status"], env, dir.FullName);

            Assert.True(start.ExitCode == 0, start.Stderr);
            Assert.Matches(@"postgresql://postgres@127\.0\.0\.1:\d+/todoscale", start.Stdout);
            Assert.Equal(start.Stdout.Trim().Split('\n')[^1], url.Stdout.Trim());
            Assert.True(migrate.ExitCode == 0, migrate.Stderr);
            Assert.Equal(0, stop.ExitCode);
            Assert.Contains("stopped", status.Stdout);
        }
        finally
        {
            await Todoscale.RunAsync(["db", "stop"], env, dir.FullName);
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task every_command_group_has_help()
    {
        foreach (var group in new[] { "db", "migrate", "maintain", "users", "serve", "demo", "bench" })
        {
            var result = await Todoscale.RunAsync([group, "--help"]);

            Assert.True(result.ExitCode == 0, $"{group} --help: {result.Stderr}");
            Assert.True(result.Stdout.Contains("Usage:"), $"{group} --help printed: {result.Stdout}");
            Assert.Contains("Usage:", result.Stdout);
        }
    }
}
