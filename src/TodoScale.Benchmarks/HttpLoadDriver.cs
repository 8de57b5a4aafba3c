using System.Diagnostics;
using System.Net;

namespace TodoScale.Benchmarks;

/// <summary>Figures of one HTTP run: latencies of the requests started in the window, and every answer that was not 200.</summary>
public sealed record HttpLoadResult(LatencyStats Stats, long Errors, string? FirstError);

/// <summary>
/// A closed-loop HTTP load generator in C#, the HTTP counterpart of <see cref="LoadDriver"/>: each logical client owns
/// one keep-alive connection (its own handler), sends the next request as soon as the previous answer has been read to
/// the end, and draws the user for each request from the given set, sending that user's bearer token. Latency is
/// measured on the client, end to end (request written to last byte of the body read).
/// </summary>
public static class HttpLoadDriver
{
    public static async Task<HttpLoadResult> RunAsync(
        Uri baseAddress, string pathAndQuery, IReadOnlyList<Guid> users, IReadOnlyDictionary<Guid, string> bearerTokens, int clients,
        TimeSpan warmup, TimeSpan duration, int seed, CancellationToken ct)
    {
        var uri = new Uri(baseAddress, pathAndQuery);
        // "Bearer <token>" strings built once: formatting them per request would bill the client's own work to the API.
        var authorization = users.Distinct().ToDictionary(u => u, u => "Bearer " + bearerTokens[u]);
        var http = Enumerable.Range(0, clients).Select(_ => NewClient()).ToList();
        try
        {
            // One unmeasured call per client before the clock starts (opens the connection, and the API's pooled database
            // connection behind it). It must answer 200: a wrong key or a missing user would otherwise be measured as
            // a fast stream of 401s.
            await Task.WhenAll(http.Select(async (client, i) =>
            {
                var (status, body) = await SendAsync(client, uri, authorization[users[i % users.Count]], readBody: true, ct);
                if (status != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"GET {pathAndQuery} answered {(int)status} before the measurement: {Shorten(body)}");
                }
            }));

            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            var stopAt = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var perClient = await Task.WhenAll(http.Select((client, i) => Task.Run(
                () => ClientLoopAsync(client, uri, users, authorization, measureFrom, stopAt, seed + i, ct), ct)));
            var all = new List<double>(perClient.Sum(r => r.Latencies.Count));
            foreach (var r in perClient)
            {
                all.AddRange(r.Latencies);
            }

            return new HttpLoadResult(LatencyStats.From(all, duration.TotalSeconds), perClient.Sum(r => r.Errors),
                perClient.Select(r => r.FirstError).FirstOrDefault(e => e is not null));
        }
        finally
        {
            foreach (var client in http)
            {
                client.Dispose();
            }
        }
    }

    private static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        // One connection per logical client, kept for the whole run, as wrk's -c and LoadDriver's connections are.
        MaxConnectionsPerServer = 1,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        DefaultRequestVersion = HttpVersion.Version11,
        Timeout = TimeSpan.FromSeconds(30),
    };

    private static async Task<(List<double> Latencies, long Errors, string? FirstError)> ClientLoopAsync(
        HttpClient client, Uri uri, IReadOnlyList<Guid> users, Dictionary<Guid, string> authorization, long measureFrom, long stopAt, int seed,
        CancellationToken ct)
    {
        var random = new Random(seed);
        var latencies = new List<double>(4096);
        long errors = 0;
        string? firstError = null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var user = users[random.Next(users.Count)];
            var t0 = Stopwatch.GetTimestamp();
            // As LoadDriver: each client measures at least one call even when a slow warm-up outlasted the window.
            if (t0 >= stopAt && latencies.Count > 0)
            {
                break;
            }

            var (status, body) = await SendAsync(client, uri, authorization[user], readBody: false, ct);
            var t1 = Stopwatch.GetTimestamp();
            if (status != HttpStatusCode.OK)
            {
                // Every answer counts, warm-up included: the stage fails the run on any non-200.
                errors++;
                firstError ??= $"{(int)status} for user {user}: {Shorten(body)}";
            }

            // Calls that started in the window count, including one ending after it (see LoadDriver).
            if (t0 >= measureFrom)
            {
                latencies.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
            }
        }

        return (latencies, errors, firstError);
    }

    // The body is read to its end in every case (the latency is the whole answer); it is kept as text only when needed.
    private static async Task<(HttpStatusCode Status, string? Body)> SendAsync(HttpClient client, Uri uri, string authorization, bool readBody, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (readBody || response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }

        await response.Content.CopyToAsync(Stream.Null, ct);
        return (response.StatusCode, null);
    }

    private static string Shorten(string? body) => body is null ? "" : body.Length <= 300 ? body : body[..300] + "…";
}
