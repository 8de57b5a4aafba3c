using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using TodoScale.Database.Connections;

namespace TodoScale.Cli.Tests;

/// <summary>
/// The built-in Citus cluster as an operator drives it: db start --workers, status, stop/start, add-worker with an online
/// rebalance while the application writes. One cluster of its own (it grows by a worker, which the shared CitusServer must not).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class CitusClusterCommandTests(PostgresServer server)
{
    private const int Users = 200;
    private const int IdsPerUser = 20;
    private const int Writers = 2;

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_citus_cluster_survives_a_restart_and_grows_by_a_worker_while_writers_keep_writing_and_lose_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("todoscale-citus-cli-");
        // The server's user (postgres, when the tests run as root) has to pass through to its data folders.
        File.SetUnixFileMode(folder.FullName, File.GetUnixFileMode(folder.FullName) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        string[] dataDir = ["--data-dir", Path.Combine(folder.FullName, "pg")];
        try
        {
            var start = await Todoscale.RunAsync(["db", "start", "--workers", "1", .. dataDir]);
            Assert.True(start.ExitCode == 0, start.Stdout + start.Stderr);
            var url = start.Stdout.Trim().Split('\n')[^1];
            var cs = ConnectionStrings.Normalize(url);
            await using (var conn = new NpgsqlConnection(cs))
            {
                await conn.OpenAsync(ct);
                await Sql.ExecAsync(conn, "CREATE TABLE items (user_id int, id int, payload text NOT NULL, PRIMARY KEY (user_id, id))");
                await Sql.ExecAsync(conn, "SELECT create_distributed_table('items', 'user_id', shard_count => 2)");
                await Sql.ExecAsync(conn, "INSERT INTO items SELECT u, i, md5(u || '/' || i) FROM generate_series(1, $1) u, generate_series(1, $2) i", Users, IdsPerUser);
            }

            var seeded = await ChecksumAsync(cs, "SELECT count(*), sum(hashtext(i::text)) FROM items i WHERE id <= $1", IdsPerUser);

            var stop = await Todoscale.RunAsync(["db", "stop", .. dataDir]);
            var stoppedStatus = await Todoscale.RunAsync(["db", "status", .. dataDir]);
            NpgsqlConnection.ClearAllPools();
            var restart = await Todoscale.RunAsync(["db", "start", .. dataDir]);
            var runningStatus = await Todoscale.RunAsync(["db", "status", .. dataDir]);

            Assert.True(stop.ExitCode == 0, stop.Stdout + stop.Stderr);
            Assert.Matches(NodeLine("coordinator", "stopped"), stoppedStatus.Stdout);
            Assert.Matches(NodeLine("worker-1", "stopped"), stoppedStatus.Stdout);
            Assert.True(restart.ExitCode == 0, restart.Stdout + restart.Stderr);
            Assert.Matches(NodeLine("coordinator", "running"), runningStatus.Stdout);
            Assert.Matches(NodeLine("worker-1", "running") + @"\s*\|\s*yes\s*\|\s*2\s*\|", runningStatus.Stdout);
            Assert.Equal(seeded, await ChecksumAsync(cs, "SELECT count(*), sum(hashtext(i::text)) FROM items i WHERE id <= $1", IdsPerUser));

            // Writers insert new rows and rewrite their own while the shards move; each keeps what it committed.
            using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var committed = new ConcurrentDictionary<(int User, int Id), string>();
            var errors = new ConcurrentQueue<string>();
            var latencies = new ConcurrentBag<(long StartedMs, double Ms)>();
            var clock = Stopwatch.StartNew();
            var writers = Enumerable.Range(1, Writers)
                .Select(w => Task.Run(() => WriteAsync(cs, w, committed, errors, latencies, clock, stopWriters.Token), ct)).ToList();
            await Task.Delay(1000, ct);
            var rebalanceStartedMs = clock.ElapsedMilliseconds;
            var addWorker = await Todoscale.RunAsync(["db", "add-worker", .. dataDir]);
            var rebalanceEndedMs = clock.ElapsedMilliseconds;
            await Task.Delay(500, ct);
            await stopWriters.CancelAsync();
            await Task.WhenAll(writers);
            var grownStatus = await Todoscale.RunAsync(["db", "status", .. dataDir]);

            Assert.True(addWorker.ExitCode == 0, addWorker.Stdout + addWorker.Stderr);
            var moves = int.Parse(MovesDone().Match(addWorker.Stdout).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(1, moves);
            Assert.Empty(errors);
            var during = latencies.Where(l => l.StartedMs >= rebalanceStartedMs && l.StartedMs <= rebalanceEndedMs).Select(l => l.Ms).Order().ToList();
            Assert.NotEmpty(during);
            Assert.Equal(seeded, await ChecksumAsync(cs, "SELECT count(*), sum(hashtext(i::text)) FROM items i WHERE id <= $1", IdsPerUser));
            var written = committed.ToArray();
            Assert.Equal(
                await ChecksumAsync(cs, "SELECT count(*), sum(hashtext(row(u, i, p)::text)) FROM unnest($1::int[], $2::int[], $3::text[]) t(u, i, p)",
                    written.Select(w => w.Key.User).ToArray(), written.Select(w => w.Key.Id).ToArray(), written.Select(w => w.Value).ToArray()),
                await ChecksumAsync(cs, "SELECT count(*), sum(hashtext(row(user_id, id, payload)::text)) FROM items WHERE id > $1", IdsPerUser));
            Assert.Equal(2L, await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM citus_get_active_worker_nodes()"));
            Assert.Equal(2L, await Sql.ScalarAsync<long>(cs, "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'items'::regclass"));
            Assert.Matches(NodeLine("worker-2", "running") + @"\s*\|\s*yes\s*\|\s*[1-9]", grownStatus.Stdout);
            TestContext.Current.TestOutputHelper?.WriteLine(FormattableString.Invariant(
                $"add-worker {rebalanceEndedMs - rebalanceStartedMs} ms for {moves} move(s); {during.Count} writes during it, p50 {during[during.Count / 2]:0.0} ms, p99 {during[(int)(during.Count * 0.99)]:0.0} ms, max {during[^1]:0.0} ms"));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await Todoscale.RunAsync(["db", "stop", .. dataDir]);
            folder.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_server_without_citus_is_refused_with_exit_4_and_one_clear_line()
    {
        var folder = Directory.CreateTempSubdirectory("todoscale-nocitus-");
        try
        {
            // A PostgreSQL installation without Citus: server programs that must never run (the check comes first), and a
            // pg_config naming library and share folders with no citus.so or citus.control.
            var bin = Directory.CreateDirectory(Path.Combine(folder.FullName, "bin")).FullName;
            foreach (var (program, script) in new[]
            {
                ("initdb", "exit 1"), ("pg_ctl", "exit 1"), ("postgres", "exit 1"),
                ("pg_config", $"echo {folder.FullName}/lib; echo {folder.FullName}/share"),
            })
            {
                var path = Path.Combine(bin, program);
                await File.WriteAllTextAsync(path, $"#!/bin/sh\n{script}\n", TestContext.Current.CancellationToken);
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var dataDir = Path.Combine(folder.FullName, "pg");

            var notInstalled = await Todoscale.RunAsync(["db", "start", "--workers", "2", "--data-dir", dataDir],
                new Dictionary<string, string?> { ["TODOSCALE_PG_BIN"] = bin });
            // The test run's own server loads no Citus: a coordinator it cannot be.
            var notLoaded = await Todoscale.RunAsync(["db", "add-worker", "--host", "127.0.0.1", "--port", "5999", "--database", server.AdminConnectionString]);

            Assert.Equal(4, notInstalled.ExitCode);
            Assert.Contains("Citus is not installed", notInstalled.Stderr);
            Assert.DoesNotContain(" at TodoScale", notInstalled.Stdout + notInstalled.Stderr);
            Assert.False(Directory.Exists(Path.Combine(dataDir, "data")), "no cluster folder is made for a server that cannot run Citus");
            Assert.Equal(4, notLoaded.ExitCode);
            Assert.Contains("does not load Citus (shared_preload_libraries", notLoaded.Stderr);
            Assert.DoesNotContain(" at TodoScale", notLoaded.Stdout + notLoaded.Stderr);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task cluster_options_out_of_range_or_half_given_are_refused_with_exit_2()
    {
        var noWorkers = await Todoscale.RunAsync(["db", "start", "--workers", "0"]);
        var tooMany = await Todoscale.RunAsync(["db", "start", "--workers", "17"]);
        var hostAlone = await Todoscale.RunAsync(["db", "add-worker", "--host", "10.0.0.5"]);
        var help = await Todoscale.RunAsync(["db", "start", "--help"]);

        Assert.Equal(2, noWorkers.ExitCode);
        Assert.Contains("--workers must be between 1 and 16", noWorkers.Stderr);
        Assert.Equal(2, tooMany.ExitCode);
        Assert.Equal(2, hostAlone.ExitCode);
        Assert.Contains("--host and --port go together", hostAlone.Stderr);
        Assert.Contains("Cannot be combined with --replicas", Whitespace().Replace(help.Stdout, " "));
    }

    private static async Task WriteAsync(string cs, int writer, ConcurrentDictionary<(int, int), string> committed, ConcurrentQueue<string> errors,
        ConcurrentBag<(long, double)> latencies, Stopwatch clock, CancellationToken stop)
    {
        var random = new Random(writer);
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync(CancellationToken.None);
        var mine = new List<(int User, int Id)>();
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var update = mine.Count > 0 && n % 3 == 2;
            var key = update ? mine[random.Next(mine.Count)] : (User: random.Next(1, Users + 1), Id: IdsPerUser + writer * 1_000_000 + n);
            var payload = $"w{writer}-{n}";
            var started = clock.ElapsedMilliseconds;
            var timer = Stopwatch.StartNew();
            try
            {
                await using var cmd = new NpgsqlCommand(update
                    ? "UPDATE items SET payload = $3 WHERE user_id = $1 AND id = $2"
                    : "INSERT INTO items (user_id, id, payload) VALUES ($1, $2, $3)", conn);
                cmd.Parameters.AddWithValue(key.User);
                cmd.Parameters.AddWithValue(key.Id);
                cmd.Parameters.AddWithValue(payload);
                await cmd.ExecuteNonQueryAsync(CancellationToken.None);
                committed[key] = payload;
                if (!update)
                {
                    mine.Add(key);
                }
            }
            catch (NpgsqlException e)
            {
                errors.Enqueue($"writer {writer}: {e.Message}");
            }

            latencies.Add((started, timer.Elapsed.TotalMilliseconds));
            await Task.Delay(10, CancellationToken.None);
        }
    }

    private static async Task<(long Count, long Sum)> ChecksumAsync(string cs, string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.AddWithValue(a);
        }

        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.IsDBNull(1) ? 0 : reader.GetInt64(1));
    }

    private static string NodeLine(string node, string state) => $@"\|\s*{node}\s*\|[^\n]*\|\s*{state}";

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"(\d+) shard group move")]
    private static partial Regex MovesDone();
}
