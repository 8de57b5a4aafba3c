using System.Net;

namespace TodoScale.Benchmarks;

/// <summary>
/// A closed-loop HTTP load generator in C#, the HTTP counterpart of <see cref="LoadDriver"/>: each logical client owns
/// one keep-alive connection (its own handler) and runs the <see cref="ClosedLoop"/>: one request is a GET with the drawn
/// user's bearer token, timed from request written to last byte of the body read.
/// </summary>
public static class HttpLoadDriver
{
    public static async Task<ClosedLoopResult> RunAsync(
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

            // Every answer that is not 200 counts as an error: the stage fails the run on any.
            return await ClosedLoop.RunAsync(clients, users, warmup, duration, seed, async (client, user, token) =>
            {
                var (status, body) = await SendAsync(http[client], uri, authorization[user], readBody: false, token);
                return status == HttpStatusCode.OK ? null : $"{(int)status} for user {user}: {Shorten(body)}";
            }, ct);
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
