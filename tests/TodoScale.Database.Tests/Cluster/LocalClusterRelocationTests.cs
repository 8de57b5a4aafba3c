using TodoScale.Database.Cluster;

namespace TodoScale.Database.Tests.Cluster;

/// <summary>
/// As root the server runs as postgres, which cannot enter a clone in /root (mode 0700): the default cluster then
/// lives where postgres can reach it, and every later command for the same folder finds it there.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LocalClusterRelocationTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_default_folder_the_server_user_cannot_reach_is_kept_elsewhere_and_found_again_by_the_next_command()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Only root hands the server to another OS user (CI runs the tests as root).");
        var home = ClusterFolders.Create("todoscale-home-", ClusterFolders.Private);
        var fallback = ClusterFolders.Create("todoscale-fallback-", ClusterFolders.Open);
        var root = Path.Combine(home.FullName, "todoscale", ".todoscale", "pg");
        var notices = new List<string>();
        var options = new LocalClusterOptions { Durable = false, RelocateWhenUnreachable = true, FallbackRoot = fallback.FullName, Notice = notices.Add };
        var cluster = new LocalCluster(root, options);
        try
        {
            await cluster.StartAsync(ct: TestContext.Current.CancellationToken);
            var later = new LocalCluster(root, options with { Notice = null });
            var laterState = await later.GetStateAsync(TestContext.Current.CancellationToken);
            await using var conn = new NpgsqlConnection(later.ConnectionString());
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            await using var where = new NpgsqlCommand("SELECT current_setting('data_directory')", conn);
            var dataDirectory = (string)(await where.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;

            Assert.Equal(LocalClusterState.Running, laterState);
            Assert.True(later.Relocated);
            Assert.StartsWith(fallback.FullName + "/todoscale-", later.ServerRoot);
            Assert.Equal(later.DataDirectory, dataDirectory);
            Assert.Equal(cluster.DataDirectory, later.DataDirectory);
            Assert.False(Directory.Exists(Path.Combine(root, "data")));
            Assert.Equal("postgres", await ClusterFolders.OwnerAsync(later.DataDirectory));
            // The client's password stays with the client, in the folder it named.
            Assert.Equal(Path.Combine(root, LocalCluster.PasswordFileName), later.PasswordFile);
            Assert.Equal("root", await ClusterFolders.OwnerAsync(later.PasswordFile));
            var notice = Assert.Single(notices);
            Assert.Contains($"cannot reach {root}", notice);
            Assert.Contains(later.ServerRoot, notice);
        }
        finally
        {
            await ClusterFolders.StopAndDeleteAsync(cluster, home, fallback);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_folder_named_explicitly_that_the_server_user_cannot_reach_is_refused_with_a_clear_message()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Only root hands the server to another OS user (CI runs the tests as root).");
        var home = ClusterFolders.Create("todoscale-home-", ClusterFolders.Private);
        var cluster = new LocalCluster(Path.Combine(home.FullName, "pg"), new LocalClusterOptions { Durable = false, RelocateWhenUnreachable = false });
        try
        {
            var e = await Assert.ThrowsAsync<LocalClusterException>(() => cluster.StartAsync(ct: TestContext.Current.CancellationToken));

            Assert.Contains("cannot reach", e.Message);
            Assert.Contains("--data-dir", e.Message);
            Assert.False(cluster.Relocated);
        }
        finally
        {
            await ClusterFolders.StopAndDeleteAsync(cluster, home);
        }
    }
}
