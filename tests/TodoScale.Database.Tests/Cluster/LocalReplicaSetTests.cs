using TodoScale.Database.Cluster;

namespace TodoScale.Database.Tests.Cluster;

/// <summary>
/// The built-in primary with a streaming standby (LocalReplicaSet, through the ReplicatedServer fixture): how the standby
/// is made and logs in, what it replays, and what replication_status() (008) and the node status say, also when it is down.
/// </summary>
public sealed class LocalReplicaSetTests(ReplicatedServer server) : IClassFixture<ReplicatedServer>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await server.RestoreAsync();

    public async ValueTask DisposeAsync() => await server.RestoreAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_standby_streams_through_its_slot_with_the_password_file_and_replays_what_the_primary_writes()
    {
        var cs = await server.SharedDatabaseAsync("replset");
        var standbyCs = server.StandbyConnectionString(ReplicatedServer.DatabaseOf(cs));
        await ExecAsync(cs, "CREATE TABLE IF NOT EXISTS replicated_probe (v int); TRUNCATE replicated_probe; INSERT INTO replicated_probe VALUES (42)");
        await server.WaitForCatchUpAsync();

        var inRecovery = await ScalarAsync<bool>(standbyCs, "SELECT pg_is_in_recovery()");
        var replicated = await ScalarAsync<int>(standbyCs, "SELECT v FROM replicated_probe");
        var standbyRefusesWrites = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(standbyCs, "INSERT INTO replicated_probe VALUES (1)"));
        var slot = await ScalarAsync<string>(cs, "SELECT slot_name || ' ' || active FROM pg_replication_slots WHERE slot_type = 'physical'");
        var autoConf = await File.ReadAllTextAsync(Path.Combine(server.Standby.DataDirectory, "postgresql.auto.conf"));
        var password = File.ReadAllText(server.Primary.PasswordFile).Split('\n')[0].Split(':')[^1].Trim();
        var replicationRules = File.ReadAllLines(Path.Combine(server.Primary.DataDirectory, "pg_hba.conf"))
            .Select(l => l.Split('#', 2)[0].Trim()).Where(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, "replication", ..])
            .Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToList();
        var status = await ReplicationStatus.ReadAsync(cs);
        var nodes = await server.Set.StatusAsync();

        Assert.True(inRecovery);
        Assert.Equal(42, replicated);
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, standbyRefusesWrites.SqlState);
        Assert.Equal("todoscale_standby_1 true", slot);
        Assert.Contains("primary_slot_name = 'todoscale_standby_1'", autoConf);
        Assert.Contains("passfile=", autoConf);
        Assert.DoesNotContain(password, autoConf);
        Assert.Equal(["host replication postgres 127.0.0.1/32 scram-sha-256"], replicationRules);
        var row = Assert.Single(status);
        Assert.Equal(("standby-1", "streaming", "OK", true), (row.Standby, row.State, row.Status, row.SlotActive));
        Assert.NotNull(row.ReplayLagBytes);
        Assert.Equal(["primary primary", "standby-1 standby"], nodes.Select(n => $"{n.Name} {n.Role}"));
        Assert.All(nodes, n => Assert.NotNull(n.LagBytes));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_stopped_standby_is_critical_in_replication_status_and_catches_up_through_its_slot_when_started_again()
    {
        var cs = await server.SharedDatabaseAsync("replset");
        await server.StopStandbyAsync();
        // Written while the standby is down: its slot keeps this WAL on the primary until it is back. Committed with
        // synchronous_commit on: test clusters run it off, and replication_status() measures the retained WAL up to the
        // write position, which an asynchronous commit may not have moved yet (retained 0: a flaky CI failure).
        await ExecAsync(cs, "SET synchronous_commit = on; DROP TABLE IF EXISTS written_while_down; CREATE TABLE written_while_down AS SELECT g FROM generate_series(1, 1000) g");
        var down = Assert.Single(await ReplicationStatus.ReadAsync(cs));
        var nodesDown = await server.Set.StatusAsync();
        await server.StartStandbyAsync();
        await server.WaitForCatchUpAsync();
        var caughtUp = await ScalarAsync<long>(server.StandbyConnectionString(ReplicatedServer.DatabaseOf(cs)), "SELECT count(*) FROM written_while_down");

        Assert.Equal(("disconnected", "CRITICAL", false), (down.State, down.Status, down.SlotActive));
        Assert.True(down.RetainedWalBytes > 0, $"retained {down.RetainedWalBytes}");
        Assert.Equal("stopped", nodesDown.Single(n => n.Name == "standby-1").Role);
        Assert.Equal(1000, caughtUp);
    }
}
