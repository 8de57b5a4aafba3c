using TodoScale.Database.Cluster;

namespace TodoScale.Database.Tests.Cluster;

/// <summary>The built-in cluster asks for a password that only its client can read; clusters made with trust are switched over.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LocalClusterAuthTests
{
    private static readonly LocalClusterOptions Throwaway = new() { Durable = false };

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_cluster_refuses_a_wrong_or_missing_password_and_accepts_the_one_in_its_owner_only_password_file()
    {
        var folder = ClusterFolders.Create("todoscale-auth-", ClusterFolders.Open);
        var cluster = new LocalCluster(Path.Combine(folder.FullName, "pg"), Throwaway);
        try
        {
            await cluster.StartAsync(ct: TestContext.Current.CancellationToken);

            var wrong = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Passfile = null, Password = "guess", Pooling = false };
            var refused = await Assert.ThrowsAsync<PostgresException>(() => OpenAndCloseAsync(wrong.ConnectionString));
            // An empty password file: no password at all, and no fallback to a ~/.pgpass of whoever runs the tests.
            var emptyPassfile = Path.Combine(folder.FullName, "empty-pgpass");
            await File.WriteAllTextAsync(emptyPassfile, "", TestContext.Current.CancellationToken);
            var none = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Passfile = emptyPassfile, Pooling = false };
            var unauthenticated = await Assert.ThrowsAnyAsync<NpgsqlException>(() => OpenAndCloseAsync(none.ConnectionString));
            await using var ok = new NpgsqlConnection(cluster.ConnectionString());
            await ok.OpenAsync(TestContext.Current.CancellationToken);
            await using var who = new NpgsqlCommand("SELECT current_user || ' ' || (SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = current_user)", ok);

            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
            Assert.Contains("password", unauthenticated.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("postgres true", await who.ExecuteScalarAsync(TestContext.Current.CancellationToken));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.PasswordFile));
            Assert.Equal(Environment.UserName, await ClusterFolders.OwnerAsync(cluster.PasswordFile));
            Assert.DoesNotContain("trust", HbaRules(cluster));
            Assert.Contains($"passfile={cluster.PasswordFile}", cluster.Url());
            Assert.DoesNotContain(File.ReadAllText(cluster.PasswordFile).Split(':')[^1].Trim(), cluster.ConnectionString() + cluster.Url());
        }
        finally
        {
            await ClusterFolders.StopAndDeleteAsync(cluster, folder);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_cluster_initialised_with_trust_is_switched_to_passwords_on_its_next_start_and_says_so_once()
    {
        var folder = ClusterFolders.Create("todoscale-trust-", ClusterFolders.Open);
        var root = Path.Combine(folder.FullName, "pg");
        var notices = new List<string>();
        var cluster = new LocalCluster(root, Throwaway with { Notice = notices.Add });
        try
        {
            // The layout an older todoscale left: the whole folder the server's, initdb -A trust, no password file.
            Directory.CreateDirectory(Path.Combine(root, "data"));
            Directory.CreateDirectory(Path.Combine(root, "run"));
            if (Environment.IsPrivilegedProcess)
            {
                await RunAsync("chown", "-R", "postgres:", root);
            }

            await ClusterFolders.RunAsServerUserAsync(cluster.Binaries.InitDb,
                "-D", cluster.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8");
            Assert.Contains("trust", HbaRules(cluster));
            Assert.False(File.Exists(cluster.PasswordFile));

            await cluster.StartAsync(ct: TestContext.Current.CancellationToken);
            var wrong = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Passfile = null, Password = "guess", Pooling = false };
            var refused = await Assert.ThrowsAsync<PostgresException>(() => OpenAndCloseAsync(wrong.ConnectionString));
            await OpenAndCloseAsync(cluster.ConnectionString());
            var noticesAfterFirstStart = notices.Count;
            await cluster.StopAsync(TestContext.Current.CancellationToken);
            // Pooled connections died with the server; the restart must not hand them out.
            NpgsqlConnection.ClearAllPools();
            await cluster.StartAsync(ct: TestContext.Current.CancellationToken);
            await OpenAndCloseAsync(cluster.ConnectionString());

            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
            Assert.DoesNotContain("trust", HbaRules(cluster));
            Assert.Contains("scram-sha-256", HbaRules(cluster));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.PasswordFile));
            Assert.Equal(1, noticesAfterFirstStart);
            Assert.Contains("trust", notices[0]);
            Assert.Contains(cluster.PasswordFile, notices[0]);
            Assert.Single(notices);
        }
        finally
        {
            await ClusterFolders.StopAndDeleteAsync(cluster, folder);
        }
    }

    private static async Task OpenAndCloseAsync(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>The rules of pg_hba.conf, comments left out (initdb's own comments mention trust).</summary>
    private static string HbaRules(LocalCluster cluster) => string.Join('\n',
        File.ReadAllLines(Path.Combine(cluster.DataDirectory, "pg_hba.conf")).Select(l => l.Split('#')[0]).Where(l => l.Trim().Length > 0));

    private static async Task RunAsync(string program, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(program, args);
        await p.WaitForExitAsync();
        Assert.Equal(0, p.ExitCode);
    }
}
