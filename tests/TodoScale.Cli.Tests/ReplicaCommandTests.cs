namespace TodoScale.Cli.Tests;

/// <summary>todoscale db start --replicas / status / url --all / stop, as an operator runs them, on a folder of their own.</summary>
public sealed class ReplicaCommandTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task db_start_with_replicas_runs_a_standby_that_status_url_all_and_stop_know_about()
    {
        var folder = Directory.CreateTempSubdirectory("todoscale-replcli-");
        File.SetUnixFileMode(folder.FullName, (UnixFileMode)0b111_101_101);
        var dataDir = Path.Combine(folder.FullName, "pg");
        try
        {
            var help = await Todoscale.RunAsync(["db", "start", "--help"]);
            var both = await Todoscale.RunAsync(["db", "start", "--replicas", "1", "--workers", "2", "--data-dir", dataDir]);
            var tooMany = await Todoscale.RunAsync(["db", "start", "--replicas", "99", "--data-dir", dataDir]);
            var start = await Todoscale.RunAsync(["db", "start", "--replicas", "1", "--data-dir", dataDir]);
            var status = await Todoscale.RunAsync(["db", "status", "--data-dir", dataDir]);
            var urls = await Todoscale.RunAsync(["db", "url", "--all", "--data-dir", dataDir]);
            var standbyUrl = urls.Stdout.Split('\n').Single(l => l.StartsWith("standby ", StringComparison.Ordinal))["standby ".Length..].Trim();
            var inRecovery = await Sql.ScalarAsync<bool>(Npgsql(standbyUrl), "SELECT pg_is_in_recovery()");
            var stop = await Todoscale.RunAsync(["db", "stop", "--data-dir", dataDir]);
            var afterStop = await Todoscale.RunAsync(["db", "status", "--data-dir", dataDir]);

            Assert.Contains("--replicas", help.Stdout);
            Assert.Contains("--workers", help.Stdout.Replace("\n", " ")); // the help says the two do not combine
            // Without the Citus helper's --workers merged, the parser refuses the unknown option: exit 2 either way.
            Assert.Equal(2, both.ExitCode);
            Assert.Equal(2, tooMany.ExitCode);
            Assert.True(start.ExitCode == 0, start.Stderr + start.Stdout);
            Assert.Contains("standby-1 streaming from the primary", start.Stdout);
            Assert.Contains("| standby-1 | standby", status.Stdout);
            Assert.Matches(@"\| primary\s+\| primary", status.Stdout);
            Assert.Matches(@"^primary postgresql://postgres@127\.0\.0\.1:\d+/todoscale\?passfile=", urls.Stdout);
            Assert.True(inRecovery);
            Assert.Equal(0, stop.ExitCode);
            Assert.Contains("stopped", afterStop.Stdout);
            Assert.DoesNotContain("postgres -D " + Path.Combine(folder.FullName, "pg-standby-1"), await RunningServersAsync());
        }
        finally
        {
            await Todoscale.RunAsync(["db", "stop", "--data-dir", dataDir]);
            folder.Delete(recursive: true);
        }
    }

    /// <summary>A libpq URL with passfile= as an Npgsql connection string (what TODOSCALE_DATABASE accepts).</summary>
    private static string Npgsql(string url) => TodoScale.Database.Connections.ConnectionStrings.Normalize(url);

    private static async Task<string> RunningServersAsync()
    {
        using var ps = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ps", "-eo args") { RedirectStandardOutput = true })!;
        var output = await ps.StandardOutput.ReadToEndAsync();
        await ps.WaitForExitAsync();
        return output;
    }
}
