using System.Diagnostics;

namespace TodoScale.Cli.Tests;

public sealed class DbCommandTests(PostgresServer server)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact(Timeout = TestTimeouts.Long)]
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

    [Fact(Timeout = TestTimeouts.Long)]
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

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_database_can_be_named_by_url_through_the_environment()
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(await server.CreateEmptyDatabaseAsync("cliurl"));
        // The fixture's cluster asks for a password: the URL names its password file, as `db url` prints it.
        var url = $"postgresql://{cs.Username}@{cs.Host}:{cs.Port}/{cs.Database}" + (cs.Passfile is { } passfile ? $"?passfile={passfile}" : "");

        var result = await Todoscale.RunAsync(["db", "migrate"], new Dictionary<string, string?> { ["TODOSCALE_DATABASE"] = url });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("applied 001_create_partitioned_tables.sql", result.Stdout);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_malformed_database_url_is_a_usage_error_with_one_clear_line()
    {
        var result = await Todoscale.RunAsync(["db", "migrate", "--database", "postgresql://host:5432/db?colour=blue"]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("colour", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Theory(Timeout = TestTimeouts.Long)]
    [InlineData("migrate", "bogus")]
    [InlineData("demo", "--rows", "abc")]
    [InlineData("users", "add")]
    public async Task a_bad_argument_is_exit_2_with_an_error_line(params string[] args)
    {
        var result = await Todoscale.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task an_unreachable_database_is_a_database_error()
    {
        var result = await Todoscale.RunAsync(["db", "migrate", "--database", "Host=127.0.0.1;Port=1;Database=x;Username=x;Timeout=2"]);

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
    }

    [Fact(Timeout = TestTimeouts.Long)]
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
            // As root this 0700 folder is one the postgres user cannot reach: nothing may be set up elsewhere before the check.
            Assert.False(File.Exists(Path.Combine(dir.FullName, ".todoscale", "pg", "server-location")));
            Assert.DoesNotContain("keeping this cluster", result.Stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
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
            var running = await Todoscale.RunAsync(["db", "status"], env, dir.FullName);
            var printed = url.Stdout.Trim();
            var psql = await PsqlAsync(printed, "SELECT current_user");
            var psqlWithoutPassword = await PsqlAsync(printed.Split('?')[0], "SELECT current_user");
            var byUrl = await Todoscale.RunAsync(["db", "status", "--database", printed], workingDirectory: dir.FullName);
            var passwordFile = Path.Combine(dir.FullName, "pg", "pgpass");
            var password = File.ReadAllText(passwordFile).Split('\n')[0].Split(':')[^1];
            var stop = await Todoscale.RunAsync(["db", "stop"], env, dir.FullName);
            var status = await Todoscale.RunAsync(["db", "status"], env, dir.FullName);

            Assert.True(start.ExitCode == 0, start.Stderr);
            Assert.Matches(@"postgresql://postgres@127\.0\.0\.1:\d+/todoscale\?passfile=/\S+/pg/pgpass", start.Stdout);
            Assert.Equal(start.Stdout.Trim().Split('\n')[^1], printed);
            Assert.True(migrate.ExitCode == 0, migrate.Stderr);
            Assert.Contains("password authentication (scram-sha-256)", running.Stdout);
            // What `db url` prints works for libpq (psql) and for Npgsql (--database), and nothing printed holds the password.
            Assert.True(psql.ExitCode == 0, psql.Output);
            Assert.Equal("postgres", psql.Output.Trim());
            Assert.NotEqual(0, psqlWithoutPassword.ExitCode);
            Assert.Contains("password", psqlWithoutPassword.Output);
            Assert.True(byUrl.ExitCode == 0, byUrl.Stderr);
            Assert.Matches(@"001_create_partitioned_tables\.sql\s*\|\s*applied", byUrl.Stdout);
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(passwordFile));
            Assert.True(password.Length >= 32, "a generated password");
            Assert.DoesNotContain(password, start.Stdout + start.Stderr + url.Stdout + running.Stdout + migrate.Stdout + byUrl.Stdout);
            Assert.Equal(0, stop.ExitCode);
            Assert.Contains("stopped", status.Stdout);
        }
        finally
        {
            await Todoscale.RunAsync(["db", "stop"], env, dir.FullName);
            dir.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task as_root_a_clone_in_a_private_home_keeps_its_cluster_where_postgres_can_reach_it_and_every_command_finds_it()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Only root hands the server to the postgres user (CI runs the tests as root).");
        // Like /root/todoscale: the home folder is 0700, so the postgres user cannot reach .todoscale/pg inside the clone.
        var home = Directory.CreateTempSubdirectory("todoscale-home");
        var clone = Directory.CreateDirectory(Path.Combine(home.FullName, "todoscale"));
        var root = Path.Combine(clone.FullName, ".todoscale", "pg");
        string? serverRoot = null;
        try
        {
            var start = await Todoscale.RunAsync(["db", "start"], workingDirectory: clone.FullName);
            serverRoot = File.Exists(Path.Combine(root, "server-location")) ? File.ReadAllText(Path.Combine(root, "server-location")).Trim() : null;
            var status = await Todoscale.RunAsync(["db", "status"], workingDirectory: clone.FullName);
            var url = await Todoscale.RunAsync(["db", "url"], workingDirectory: clone.FullName);
            var psql = await PsqlAsync(url.Stdout.Trim(), "SELECT current_setting('data_directory')");
            var stop = await Todoscale.RunAsync(["db", "stop"], workingDirectory: clone.FullName);
            var stopped = await Todoscale.RunAsync(["db", "status"], workingDirectory: clone.FullName);

            Assert.True(start.ExitCode == 0, start.Stdout + start.Stderr);
            Assert.NotNull(serverRoot);
            Assert.StartsWith("/var/lib/todoscale/todoscale-", serverRoot);
            Assert.Contains($"cannot reach {root}; keeping this cluster's data in {serverRoot}", start.Stderr.ReplaceLineEndings(" "));
            Assert.Contains($"PostgreSQL running in {serverRoot}", start.Stdout);
            Assert.Equal(0, status.ExitCode);
            Assert.Contains($"({serverRoot}): running on ", status.Stdout);
            Assert.Contains("data kept in", status.Stdout);
            Assert.Equal(start.Stdout.Trim().Split('\n')[^1], url.Stdout.Trim());
            Assert.True(psql.ExitCode == 0, psql.Output);
            Assert.Equal(Path.Combine(serverRoot, "data"), psql.Output.Trim());
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(root, "pgpass")));
            Assert.Equal(0, stop.ExitCode);
            Assert.Contains($"({serverRoot}): stopped", stopped.Stdout);
        }
        finally
        {
            await Todoscale.RunAsync(["db", "stop"], workingDirectory: clone.FullName);
            if (serverRoot is not null && Directory.Exists(Path.GetDirectoryName(serverRoot)))
            {
                Directory.Delete(Path.GetDirectoryName(serverRoot)!, recursive: true);
            }

            home.Delete(recursive: true);
        }
    }

    /// <summary>The real psql with a libpq URL, never prompting (-w): a missing credential fails instead of waiting for a terminal.</summary>
    private async Task<(int ExitCode, string Output)> PsqlAsync(string url, string sql)
    {
        var psi = new ProcessStartInfo(server.Binaries.Psql) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-X", "-w", "-At", "-d", url, "-c", sql })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("PGPASSWORD");
        psi.Environment.Remove("PGPASSFILE");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    [Fact(Timeout = TestTimeouts.Long)]
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
