using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using TodoScale.Api.Auth;
using TodoScale.Application.Data.Routing;

namespace TodoScale.Api.Hosting;

/// <summary>
/// Sends each /api request to its node before the endpoint resolves its service (<see cref="DataRoute"/>):
/// <list type="bullet">
/// <item>GET/HEAD (list, get, subtasks, projects, dashboard, AI interactions): a standby that has replayed the user's
/// read fence (their last write), else the primary. A read that fails on the standby because it cannot connect or was
/// cut off (standby stopped, restarting, a recovery conflict) runs once more, on another standby or the primary,
/// so a standby going away fails no request;</item>
/// <item>every other method: the primary, and before the response leaves, the user's fence is recorded on the primary
/// (<see cref="ReadFences"/>), so the response cannot reach the client before the fence is visible to every instance;</item>
/// <item>/api/ops: always the primary (operators read the truth, and maintenance and migration write).</item>
/// </list>
/// </summary>
internal sealed class ReadRoutingMiddleware(RequestDelegate next, ReplicaSet set, ReadFences fences, ILogger<ReadRoutingMiddleware> log)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (!set.HasStandbys || !http.Request.Path.StartsWithSegments("/api") || http.Request.Path.StartsWithSegments("/api/ops")
            || UserId(http) is not { } userId)
        {
            await next(http);
            return;
        }

        var served = new ServedBy();
        if (set.Options.ServedByHeader)
        {
            http.Response.OnStarting(() =>
            {
                http.Response.Headers[ReadReplicaHosting.ServedByHeader] = served.Node is null ? "primary" : "standby";
                http.Response.Headers[ReadReplicaHosting.NodeHeader] = served.Node?.Name ?? "primary";
                return Task.CompletedTask;
            });
        }

        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            await ReadAsync(http, userId, served);
        }
        else
        {
            await WriteAsync(http, userId);
        }
    }

    private async Task ReadAsync(HttpContext http, Guid userId, ServedBy served)
    {
        ulong? fence = null;
        // No standby can serve: skip the fence lookup, the primary answers anyway.
        if (set.AnyServing)
        {
            fence = await fences.GetFenceAsync(userId, http.RequestAborted);
            served.Node = set.ChooseForRead(fence);
        }

        http.RequestServices.Route().Use(served.Node);
        try
        {
            await next(http);
        }
        catch (Exception e) when (served.Node is { } failed && !http.Response.HasStarted && NodeFailure(e) is { } reason)
        {
            if (reason != RecoveryConflict)
            {
                failed.MarkDown(reason);
            }

            served.Node = set.ChooseForRead(fence, except: failed);
            log.LogWarning("read on standby {Node} failed ({Reason}); retrying on {Other}", failed.Name, reason, served.Node?.Name ?? "the primary");
            // The services of the first attempt are bound to the failed node: the retry gets a scope of its own.
            var original = http.RequestServices;
            await using var scope = original.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            http.RequestServices = scope.ServiceProvider;
            try
            {
                scope.ServiceProvider.Route().Use(served.Node);
                await next(http);
            }
            finally
            {
                http.RequestServices = original;
            }
        }
    }

    private async Task WriteAsync(HttpContext http, Guid userId)
    {
        var recorded = false;
        async Task RecordAsync()
        {
            if (recorded)
            {
                return;
            }

            recorded = true;
            try
            {
                var lsn = await fences.RecordWriteAsync(userId, CancellationToken.None);
                if (set.Options.ServedByHeader && !http.Response.HasStarted)
                {
                    http.Response.Headers[ReadReplicaHosting.WriteLsnHeader] = new NpgsqlTypes.NpgsqlLogSequenceNumber(lsn).ToString();
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                // The primary just took the write, so this is rare; the user's next reads may then miss it on a standby for up to the lag bound.
                log.LogError(e, "could not record the read fence of user {User}", userId);
            }
        }

        // Before the response leaves (OnStarting), so no client can read before the fence exists; and once more after the
        // endpoint, for a request whose client went away before any response started.
        http.Response.OnStarting(RecordAsync);
        try
        {
            await next(http);
        }
        finally
        {
            await RecordAsync();
        }
    }

    private const string RecoveryConflict = "recovery conflict";

    /// <summary>Why a read on a standby failed when the standby is to blame (and another node may answer), else null.</summary>
    private static string? NodeFailure(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                // 40001 on a standby: "canceling statement due to conflict with recovery" (replay needed the rows).
                case PostgresException { SqlState: PostgresErrorCodes.SerializationFailure }:
                    return RecoveryConflict;
                // 57P01..57P03: shut down, crash, starting up; 08xxx: connection exceptions; 53300: too many connections.
                case PostgresException p when p.SqlState.StartsWith("57P", StringComparison.Ordinal) || p.SqlState.StartsWith("08", StringComparison.Ordinal)
                                              || p.SqlState == PostgresErrorCodes.TooManyConnections:
                    return $"{p.SqlState} {p.MessageText}";
                case PostgresException:
                    return null;
                case NpgsqlException n when n.IsTransient || n.InnerException is SocketException or IOException or TimeoutException:
                    return n.Message;
            }
        }

        return null;
    }

    private static Guid? UserId(HttpContext http) =>
        http.User.Identity?.IsAuthenticated == true && Guid.TryParse(http.User.FindFirst(TokenIssuer.SubjectClaim)?.Value, out var id) ? id : null;

    private sealed class ServedBy
    {
        public ReplicaNode? Node { get; set; }
    }
}
