using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TodoScale.Api.Auth;
using TodoScale.Api.Hosting;
using TodoScale.Application.Data;
using TodoScale.Benchmarks;

namespace TodoScale.Benchmarks.Tests;

// The API stage on a few thousand rows: it proves the stage measures every cell and that the API answers what its
// statements answer. It asserts nothing about speed.
public sealed class ApiStageTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_small_run_measures_both_endpoints_for_both_user_sets_and_every_client_count_and_every_request_is_answered_200()
    {
        var options = BenchHarnessTests.SmallRun(Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}")) with
        {
            Clients = [1], Rounds = 1, Operations = false, Queries = [QueryKind.Top20], Api = true, ApiClients = [1, 2],
            ApiWarmup = TimeSpan.FromSeconds(1), ApiPoolSize = 3,
        };
        var ct = TestContext.Current.CancellationToken;
        var result = await new BenchRunner(server.AdminConnectionString, options, _ => { }, server.Binaries).RunAsync(ct);

        // wrk is part of the setup (.ci/run installs it from Debian): a missing wrk must fail here, not skip its half.
        var wrk = WrkRunner.Locate();
        Assert.True(wrk is not null, "wrk is not installed (apt-get install wrk); the API benchmark's wrk path would go untested");
        foreach (var endpoint in ApiEndpoints.All)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                foreach (var clients in options.ApiClients)
                {
                    Assert.True(result.Api(endpoint, set, clients, ApiGenerators.Database) is { Stats.Count: > 0 }, $"no DB-only cell for {endpoint}/{set}/{clients}");
                    var http = result.Api(endpoint, set, clients, ApiGenerators.CSharp);
                    Assert.True(http is { Stats.Count: > 0 }, $"no C# client cell for {endpoint}/{set}/{clients}");
                    Assert.True(http.Errors == 0, $"{endpoint}/{set}/{clients}: {http.Errors} answers other than 200, first {http.FirstError}");
                    var wrkCell = result.Api(endpoint, set, clients, ApiGenerators.Wrk);
                    Assert.True(wrkCell is { Stats.Count: > 0, Errors: 0 }, $"wrk cell of {endpoint}/{set}/{clients}: {wrkCell?.Stats.Count} requests, {wrkCell?.FirstError}");
                }
            }
        }

        Assert.Equal(0L, result.ApiErrors);
        Assert.Equal(ApiEndpoints.All, result.ApiChecks.Select(c => c.Endpoint));
        Assert.All(result.ApiChecks, c => Assert.True(c.Mismatches == 0, $"{c.Endpoint}: {c.Mismatches} of {c.Users} users differ, first {c.FirstMismatch}"));
        Assert.DoesNotContain(WrkRunner.SkipNote, result.ApiNotes);
        Assert.StartsWith("wrk ", result.WrkVersion);

        Assert.Contains(result.ApiNotes, n => n.StartsWith("Before measuring, the API was loaded for", StringComparison.Ordinal));
        // Read back from the host's own data source: the cap is what the API ran with, not what was asked for.
        Assert.Contains(result.ApiNotes, n => n.StartsWith("The API's connection pool holds at most 3 connections", StringComparison.Ordinal));

        var written = BenchReport.Write(result, options.OutputDirectory!);
        var md = await File.ReadAllTextAsync(Path.Combine(options.OutputDirectory!, "benchmarks.md"), ct);
        Assert.Contains(written, p => p.EndsWith("bench-api-list.png", StringComparison.Ordinal) && new FileInfo(p).Length > 0);
        Assert.Contains(written, p => p.EndsWith("bench-api-dashboard.png", StringComparison.Ordinal));
        Assert.Contains("### HTTP API under load", md);
        Assert.Contains("#### List endpoint `GET /api/todos?status=todo&limit=20` — heavy users", md);
        Assert.Contains("#### Dashboard endpoint `GET /api/dashboard` — skewed users", md);
        Assert.Contains("| API list endpoint ≥ 40% of the database rate, p99 < 20 ms | not measured at 16 clients", md);

        await the_list_endpoint_answers_the_todo_ids_of_its_statement_in_order(options.DatabaseName!, ct);
    }

    // Independent of the stage's own check: a fresh host on the run's database, against ListActivePage run directly.
    private async Task the_list_endpoint_answers_the_todo_ids_of_its_statement_in_order(string database, CancellationToken ct)
    {
        var cs = server.ConnectionString(database);
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions { ConnectionString = cs, Jwt = JwtSettings.NewRandom(), Urls = ["http://127.0.0.1:0"] },
            b => b.Logging.ClearProviders());
        await app.StartAsync(ct);
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            var users = new List<Guid>();
            await using (var cmd = db.CreateCommand("SELECT user_id FROM bench_heavy ORDER BY n LIMIT 3"))
            await using (var r = await cmd.ExecuteReaderAsync(ct))
            {
                while (await r.ReadAsync(ct))
                {
                    users.Add(r.GetGuid(0));
                }
            }

            using var http = new HttpClient { BaseAddress = new Uri(TodoScaleApi.ListeningUrls(app)[0]) };
            var issuer = app.Services.GetRequiredService<TokenIssuer>();
            var nonEmpty = 0;
            foreach (var user in users)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, ApiEndpoints.Path(ApiEndpoint.List));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", issuer.Issue(user));
                using var response = await http.SendAsync(request, ct);
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
                using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                var apiIds = page.RootElement.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()).ToList();

                var expected = new List<Guid>();
                await using (var cmd = db.CreateCommand(TodoQueries.ListActivePage))
                {
                    LoadDriver.AddParameters(cmd.Parameters, ApiEndpoints.Statements(ApiEndpoint.List, DateTime.UtcNow)[0], user);
                    await using var r = await cmd.ExecuteReaderAsync(ct);
                    while (await r.ReadAsync(ct))
                    {
                        expected.Add(r.GetGuid(0));
                    }
                }

                Assert.Equal(expected.Take(ApiEndpoints.ListLimit), apiIds);
                nonEmpty += apiIds.Count > 0 ? 1 : 0;
            }

            Assert.True(nonEmpty > 0, "the heavy users have no open todos: the comparison proves nothing");
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task wrk_output_gives_requests_duration_latency_percentiles_and_every_kind_of_error()
    {
        // Yield first, so the body runs on the pool and the Timeout can end it should it never return.
        await Task.Yield();
        const string output = """
            Running 1s test @ http://127.0.0.1:41234/api/todos?status=todo&limit=20
              2 threads and 16 connections
              Thread Stats   Avg      Stdev     Max   +/- Stdev
                Latency     2.51ms    1.02ms  14.30ms   81.20%
                Req/Sec     3.21k   210.55     3.60k    70.00%
              6402 requests in 1.00s, 49.71MB read
              Non-2xx or 3xx responses: 3
            todoscale-wrk requests=6402 duration_us=1002113 connect_errors=0 read_errors=1 write_errors=0 status_errors=3 timeout_errors=2 p50_us=2311 p95_us=4120 p99_us=6877 mean_us=2512.4
            Requests/sec:   6388.51
            Transfer/sec:     49.61MB
            """;

        var r = WrkRunner.Parse(output);

        Assert.Equal(6402, r.Requests);
        Assert.Equal(1.002113, r.Seconds, 6);
        Assert.Equal(2.311, r.P50Ms, 6);
        Assert.Equal(4.120, r.P95Ms, 6);
        Assert.Equal(6.877, r.P99Ms, 6);
        Assert.Equal(2.5124, r.MeanMs, 6);
        Assert.Equal(6, r.Errors);
        Assert.Equal((1L, 3L, 2L), (r.ReadErrors, r.StatusErrors, r.TimeoutErrors));
        Assert.Contains("3 non-2xx/3xx answers", r.Describe());
        Assert.Equal(6402 / 1.002113, r.Stats.PerSecond, 3);
        Assert.Throws<InvalidOperationException>(() => WrkRunner.Parse("Running 1s test @ http://x/\n  0 requests in 1.00s"));
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task wrk_is_looked_up_on_the_path_and_gets_whole_seconds()
    {
        await Task.Yield();
        Assert.Equal(1, WrkRunner.Seconds(TimeSpan.FromMilliseconds(100)));
        Assert.Equal(1, WrkRunner.Seconds(TimeSpan.FromSeconds(1)));
        Assert.Equal(3, WrkRunner.Seconds(TimeSpan.FromSeconds(2.5)));
        if (OperatingSystem.IsWindows())
        {
            return; // the executable bit below is a Unix notion; wrk is not built for Windows
        }

        var dir = Directory.CreateTempSubdirectory("wrk-path-");
        try
        {
            Assert.Null(WrkRunner.Locate(dir.FullName));
            var fake = Path.Combine(dir.FullName, "wrk");
            File.WriteAllText(fake, "#!/bin/sh\n");
            Assert.Null(WrkRunner.Locate(dir.FullName)); // not executable
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Assert.Equal(fake, WrkRunner.Locate($"/nonexistent{Path.PathSeparator}{dir.FullName}"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_target_row_judges_each_generator_at_16_clients_on_rate_and_p99_for_skewed_and_heavy_users()
    {
        await Task.Yield();
        var result = new BenchResult
        {
            Options = new BenchOptions { ApiClients = [1, 16] },
            Machine = new MachineInfo(2, 1024, "PostgreSQL 15", "256MB", "linux", ".NET"),
            StartedUtc = DateTime.UtcNow,
        };
        void Cell(string set, string generator, double perSecond, double p99) =>
            result.ApiCells.Add(new ApiCell(ApiEndpoint.List, set, 16, generator, new LatencyStats((long)perSecond, 1, 1, 2, p99, 1), 0, null));
        Cell(UserSets.Skewed, ApiGenerators.Database, 10_000, 2);
        Cell(UserSets.Skewed, ApiGenerators.Wrk, 4_500, 12);
        Cell(UserSets.Skewed, ApiGenerators.CSharp, 3_000, 15);
        Cell(UserSets.Heavy, ApiGenerators.Database, 8_000, 3);
        Cell(UserSets.Heavy, ApiGenerators.Wrk, 4_000, 25);

        var row = ApiReport.TargetRow(result);

        Assert.Contains("wrk 0.45× (4,500 vs 10,000 req/s), p99 12.0 ms (heavy users: 0.50×, p99 25.0 ms)", row);
        Assert.Contains("C# client 0.30×", row);
        // Skewed users meet it with wrk, heavy users miss the p99 bound: a miss for the generator, not a footnote.
        Assert.EndsWith("| **not met** |", row);

        result.ApiCells.RemoveAll(c => c.Generator == ApiGenerators.CSharp);
        Assert.EndsWith("| **not met** |", ApiReport.TargetRow(result));
        result.ApiCells.RemoveAll(c => c.UserSet == UserSets.Heavy && c.Generator == ApiGenerators.Wrk);
        Cell(UserSets.Heavy, ApiGenerators.Wrk, 4_000, 15);
        Assert.EndsWith("| met |", ApiReport.TargetRow(result));
        Assert.Contains("not measured in this run (`--no-api`)", ApiReport.TargetRow(new BenchResult
        {
            Options = new BenchOptions { Api = false }, Machine = result.Machine, StartedUtc = result.StartedUtc,
        }));
    }
}
