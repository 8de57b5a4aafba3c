using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using TodoScale.Api.Auth;
using TodoScale.Api.Hosting;

namespace TodoScale.Benchmarks;

/// <summary>
/// The API stage of a run, on the final layout: hosts the real API in-process on a free port (no maintenance scheduler),
/// issues tokens for the benchmark users with the host's own issuer, checks that the list and dashboard endpoints answer
/// what their statements answer, then measures, per endpoint, user set and client count, three variants taking turns
/// within each round: the endpoint's statements through Npgsql alone (LoadDriver, on a data source with the API's own
/// connection settings), the API through the C# client, and the API through wrk when it is installed.
/// </summary>
internal sealed class ApiStage(string apiConnectionString, BenchOptions options, Action<string> log)
{
    public const string StageKey = "api";

    public async Task RunAsync(BenchResult result, IReadOnlyList<(string Name, Guid[] Users)> sets, CancellationToken ct)
    {
        // A bounded pool queues the requests beyond it in Npgsql instead of running one backend per request: on 2 cores,
        // with wrk at 16 connections on the list endpoint, 4 connections served 6,300-6,850 requests/s with p99 5-12 ms,
        // the unbounded pool (16 busy backends) 5,200-5,700/s with p99 8-22 ms (todoscale serve, 2026-12-01).
        var hostCs = options.ApiPoolSize > 0
            ? new NpgsqlConnectionStringBuilder(apiConnectionString) { MaxPoolSize = options.ApiPoolSize }.ConnectionString
            : apiConnectionString;
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions
        {
            ConnectionString = hostCs,
            Jwt = JwtSettings.NewRandom(),
            Urls = ["http://127.0.0.1:0"],
        }, b => b.Logging.SetMinimumLevel(LogLevel.Warning)); // the host's start-up lines would interleave with the run's progress
        await app.StartAsync(ct);
        var work = Directory.CreateTempSubdirectory("todoscale-bench-api-");
        try
        {
            var baseUri = new Uri(TodoScaleApi.ListeningUrls(app)[0]);
            var issuer = app.Services.GetRequiredService<TokenIssuer>();
            var apiDb = app.Services.GetRequiredService<NpgsqlDataSource>();
            // The database-only runs use the API's own connection settings (its NpgsqlDataSource: plan_cache_mode and
            // whatever else the host sets), so the comparison differs by the HTTP layer only. The data source hides the
            // password; it comes back from the connection string the host was given.
            // Its pool is not the API's: the database-only runs hold one connection per client (up to 128), as LoadDriver
            // measures every other stage.
            var dbOnlyCs = new NpgsqlConnectionStringBuilder(apiDb.ConnectionString)
            {
                Password = new NpgsqlConnectionStringBuilder(apiConnectionString).Password,
                MaxPoolSize = BenchRunner.ClientPoolSize,
            };
            await using var dbOnly = NpgsqlDataSource.Create(dbOnlyCs.ConnectionString);
            log($"API stage: {baseUri} (database-only runs with Options='{dbOnlyCs.Options}')");
            var apiPool = new NpgsqlConnectionStringBuilder(apiDb.ConnectionString).MaxPoolSize;
            result.ApiNotes.Add($"The API's connection pool holds at most {apiPool} connections (Maximum Pool Size; `--api-pool`): requests beyond " +
                                $"that wait in Npgsql's queue rather than each running its own backend on the same cores.");

            var tokens = sets.SelectMany(s => s.Users).Distinct().ToDictionary(u => u, u => issuer.Issue(u));
            var wrk = options.Wrk is null ? WrkRunner.Locate() : options.Wrk.Length == 0 ? null : options.Wrk;
            string? script = null;
            var tokenFiles = new Dictionary<string, string>();
            if (wrk is null)
            {
                result.ApiNotes.Add(options.Wrk is null ? WrkRunner.SkipNote : "wrk was switched off for this run, so the API was measured with the C# client only.");
                log("  " + result.ApiNotes[^1]);
            }
            else
            {
                result.WrkVersion = await WrkRunner.VersionAsync(wrk, ct);
                script = await WrkRunner.WriteScriptAsync(work.FullName, ct);
                foreach (var (name, users) in sets)
                {
                    var file = Path.Combine(work.FullName, $"tokens-{name}.txt");
                    // One line per entry of the set keeps its skew; the tokens are valid only for this run's random key.
                    await File.WriteAllLinesAsync(file, users.Select(u => tokens[u]), ct);
                    tokenFiles[name] = file;
                }
            }

            var now = DateTime.UtcNow;
            await CheckAnswersAsync(baseUri, dbOnly, tokens, sets, result, ct);
            await WarmUpAsync(baseUri, tokens, sets, result, ct);

            var seed = options.Seed;
            foreach (var endpoint in ApiEndpoints.All)
            {
                var path = ApiEndpoints.Path(endpoint);
                var statements = ApiEndpoints.Statements(endpoint, now);
                foreach (var (set, users) in sets)
                {
                    foreach (var clients in options.ApiClients)
                    {
                        var db = new List<LatencyStats>();
                        var http = new List<ClosedLoopResult>();
                        var wrkRounds = new List<WrkResult>();
                        for (var round = 0; round < options.Rounds; round++)
                        {
                            db.Add(await LoadDriver.RunAsync(dbOnly, statements, users, clients, options.Warmup, options.Duration, seed++, ct));
                            // Idle pooled connections of one variant would otherwise add up with the next variant's (64 + 64
                            // clients exceed the max_connections of 100 a default server has).
                            dbOnly.Clear();
                            http.Add(await HttpLoadDriver.RunAsync(baseUri, path, users, tokens, clients, options.Warmup, options.Duration, seed++, ct));
                            if (wrk is not null)
                            {
                                // wrk right after the C# client: it has no warm-up of its own, and finds the API's
                                // connection pool and prepared state as the C# client left them.
                                wrkRounds.Add(await WrkRunner.RunAsync(wrk, script!, new Uri(baseUri, path), tokenFiles[set], clients, options.Duration, seed++, ct));
                            }

                            apiDb.Clear();
                        }

                        var dbCell = new ApiCell(endpoint, set, clients, ApiGenerators.Database, LatencyStats.MedianOf(db), 0, null);
                        var httpCell = new ApiCell(endpoint, set, clients, ApiGenerators.CSharp, LatencyStats.MedianOf([.. http.Select(h => h.Stats)]),
                            http.Sum(h => h.Errors), http.Select(h => h.FirstError).FirstOrDefault(e => e is not null));
                        result.ApiCells.Add(dbCell);
                        result.ApiCells.Add(httpCell);
                        var line = new StringBuilder($"  [api] {ApiEndpoints.Key(endpoint),-9} {set,-6} c={clients,-3} db {Rate(dbCell)} | C# {Rate(httpCell)} {httpCell.Stats.PerSecond / dbCell.Stats.PerSecond:F2}×");
                        if (wrkRounds.Count > 0)
                        {
                            var wrkCell = new ApiCell(endpoint, set, clients, ApiGenerators.Wrk, LatencyStats.MedianOf([.. wrkRounds.Select(w => w.Stats)]),
                                wrkRounds.Sum(w => w.Errors), wrkRounds.Select(w => w.Describe()).FirstOrDefault(e => e is not null));
                            result.ApiCells.Add(wrkCell);
                            line.Append($" | wrk {Rate(wrkCell)} {wrkCell.Stats.PerSecond / dbCell.Stats.PerSecond:F2}×");
                        }

                        log(line.ToString());
                        foreach (var failed in result.ApiCells.TakeLast(3).Where(c => c.Errors > 0 && c.Endpoint == endpoint && c.Clients == clients && c.UserSet == set))
                        {
                            log($"  [api] {failed.Errors} answers other than 200 ({failed.Generator}); first: {failed.FirstError}");
                        }
                    }
                }
            }
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Loads every endpoint in slices until a slice compiles almost nothing, or for <see cref="BenchOptions.ApiWarmup"/>.
    /// The API's code (ASP.NET Core, JSON, JWT validation, Npgsql, our handlers) is compiled while it serves: tiered
    /// compilation starts with unoptimised code, then instruments the hot methods and compiles them again, which under
    /// load on 2 cores goes on for tens of seconds. Measured from a cold start, the list endpoint answered 3,400-5,400
    /// requests/s through wrk in the first 15 s and 7,100-7,900/s once settled, while the database-only side runs code
    /// that the earlier stages already warmed: without this the comparison would charge the API for its start-up
    /// compilation, which a server pays once.
    /// </summary>
    private async Task WarmUpAsync(Uri baseUri, IReadOnlyDictionary<Guid, string> tokens, IReadOnlyList<(string Name, Guid[] Users)> sets,
        BenchResult result, CancellationToken ct)
    {
        if (options.ApiWarmup <= TimeSpan.Zero)
        {
            return;
        }

        var slice = TimeSpan.FromSeconds(Math.Min(2, options.ApiWarmup.TotalSeconds));
        var window = slice * ApiEndpoints.All.Count;
        var clients = options.ApiClients.Max();
        var users = sets.SelectMany(s => s.Users).ToArray();
        var started = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan lastJit;
        do
        {
            var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            foreach (var endpoint in ApiEndpoints.All)
            {
                await HttpLoadDriver.RunAsync(baseUri, ApiEndpoints.Path(endpoint), users, tokens, clients, TimeSpan.Zero, slice, options.Seed, ct);
            }

            lastJit = System.Runtime.JitInfo.GetCompilationTime() - jitBefore;
        }
        // Settled: less than 1% of the slice went into compiling.
        while (lastJit > 0.01 * window && started.Elapsed < options.ApiWarmup);

        result.ApiNotes.Add($"Before measuring, the API was loaded for {started.Elapsed.TotalSeconds:F0} s ({clients} C# clients, every endpoint in turn) " +
                            $"until its code was compiled: the last {window.TotalSeconds:F0} s of load spent {lastJit.TotalMilliseconds:F0} ms in the JIT.");
        log("  " + result.ApiNotes[^1]);
    }

    private static string Rate(ApiCell c) => $"{c.Stats.PerSecond,7:N0}/s p99 {BenchReport.Ms(c.Stats.P99Ms),6} ms";

    /// <summary>
    /// The list page and the dashboard as the API answers them and as their statements answer them, for 10 skewed and
    /// 5 heavy users: todo ids in order (and whether a next page exists), counters, project and AI interaction ids.
    /// </summary>
    private static async Task CheckAnswersAsync(Uri baseUri, NpgsqlDataSource db, IReadOnlyDictionary<Guid, string> tokens,
        IReadOnlyList<(string Name, Guid[] Users)> sets, BenchResult result, CancellationToken ct)
    {
        var users = sets.SelectMany(s => s.Users.Take(s.Name == UserSets.Heavy ? 5 : 10)).ToArray();
        using var http = new HttpClient { BaseAddress = baseUri };
        foreach (var endpoint in ApiEndpoints.All)
        {
            var mismatches = 0;
            string? first = null;
            foreach (var user in users)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, ApiEndpoints.Path(endpoint));
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + tokens[user]);
                using var response = await http.SendAsync(request, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"GET {ApiEndpoints.Path(endpoint)} answered {(int)response.StatusCode} for user {user}: {body}");
                }

                using var json = JsonDocument.Parse(body);
                var rows = await RowsAsync(db, ApiEndpoints.Statements(endpoint, DateTime.UtcNow), user, ct);
                var (api, expected) = endpoint == ApiEndpoint.List ? ListAnswers(json.RootElement, rows) : DashboardAnswers(json.RootElement, rows);
                if (api != expected)
                {
                    mismatches++;
                    first ??= $"user {user}: API {api} vs statements {expected}";
                }
            }

            result.ApiChecks.Add(new ApiCheck(endpoint, users.Length, mismatches, first));
        }
    }

    // The service returns the first `limit` rows of its limit + 1 and a cursor exactly when the extra row came back.
    private static (string Api, string Expected) ListAnswers(JsonElement page, List<object?[][]> rows)
    {
        var api = string.Join(',', page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()))
                  + $" next:{page.GetProperty("nextCursor").ValueKind != JsonValueKind.Null}";
        var ids = rows[0].Select(r => (Guid)r[0]!).ToList();
        return (api, string.Join(',', ids.Take(ApiEndpoints.ListLimit)) + $" next:{ids.Count > ApiEndpoints.ListLimit}");
    }

    private static (string Api, string Expected) DashboardAnswers(JsonElement d, List<object?[][]> rows)
    {
        var s = d.GetProperty("byStatus");
        var api = string.Join(',', new[] { s.GetProperty("todo"), s.GetProperty("inProgress"), s.GetProperty("done"), s.GetProperty("cancelled"),
                      d.GetProperty("overdue"), d.GetProperty("dueToday"), d.GetProperty("dueThisWeek"), d.GetProperty("completedThisWeek") }.Select(e => e.GetInt64()))
                  + " top:" + string.Join(',', d.GetProperty("topOpen").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()))
                  + " projects:" + string.Join(',', d.GetProperty("projects").EnumerateArray().Select(p => $"{p.GetProperty("id").GetGuid()}/{p.GetProperty("openCount").GetInt64()}/{p.GetProperty("doneCount").GetInt64()}"))
                  + " ai:" + string.Join(',', d.GetProperty("recentAiInteractions").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        // The service adds the archive's completed count (the second statement) to the active todos' (the counts' last column).
        var counts = rows[0][0].Select(v => Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        counts[^1] += Convert.ToInt64(rows[1][0][0], System.Globalization.CultureInfo.InvariantCulture);
        var expected = string.Join(',', counts)
                       + " top:" + string.Join(',', rows[2].Select(r => (Guid)r[0]!))
                       + " projects:" + string.Join(',', rows[3].Select(r => $"{(Guid)r[0]!}/{r[5]}/{r[6]}"))
                       + " ai:" + string.Join(',', rows[4].Select(r => (Guid)r[0]!));
        return (api, expected);
    }

    private static async Task<List<object?[][]>> RowsAsync(NpgsqlDataSource db, IReadOnlyList<BenchStatement> statements, Guid user, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var all = new List<object?[][]>();
        foreach (var statement in statements)
        {
            await using var cmd = new NpgsqlCommand(statement.Sql, conn);
            LoadDriver.AddParameters(cmd.Parameters, statement, user);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var rows = new List<object?[]>();
            while (await reader.ReadAsync(ct))
            {
                var row = new object?[reader.FieldCount];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                }

                rows.Add(row);
            }

            all.Add([.. rows]);
        }

        return all;
    }
}
