using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using NpgsqlTypes;
using TodoScale.Api.Hosting;
using TodoScale.Application.Data.Routing;

namespace TodoScale.Api.Endpoints;

/// <summary>
/// GET /api/ops/replication (operator role): the primary's view (<c>replication_status()</c> of
/// migrations/scaling/008_replication.sql: each standby's state, slot, replay lag in bytes and seconds) and this API
/// instance's routing view (which standbys it reads from now, and why not the others).
/// </summary>
public static class ReplicationApi
{
    public const string ReplicationStatusSql = "SELECT * FROM replication_status()";

    public static IEndpointRouteBuilder MapReplicationApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/ops").RequireAuthorization(TodoScaleApi.OperatorPolicy).WithTags("Operators")
            .MapGet("/replication", Replication)
            .WithSummary("replication_status() on the primary, and which standbys this API instance reads from.");
        return app;
    }

    public sealed record RoutingNode(string Node, bool ServesReads, bool Reachable, bool InRecovery, bool ReplayPaused, string ReplayLsn,
        long LagBytes, double? LagSeconds, string? Error, DateTimeOffset CheckedAt);

    public sealed record ReplicationView(List<Dictionary<string, object?>> Primary, IReadOnlyList<RoutingNode> Routing, double MaxLagSeconds);

    private static async Task<Ok<ReplicationView>> Replication(NpgsqlDataSource primary, ReplicaSet set, CancellationToken ct)
    {
        var rows = new List<Dictionary<string, object?>>();
        await using (var cmd = primary.CreateCommand(ReplicationStatusSql))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var row = new Dictionary<string, object?>(r.FieldCount);
                for (var i = 0; i < r.FieldCount; i++)
                {
                    row[r.GetName(i)] = r.IsDBNull(i) ? null : r.GetValue(i) is NpgsqlLogSequenceNumber lsn ? lsn.ToString() : r.GetValue(i);
                }

                rows.Add(row);
            }
        }

        var routing = set.Standbys.Select(s => s.State is var st
            ? new RoutingNode(s.Name, st.Serves(set.Options.MaxLag), st.Reachable, st.InRecovery, st.ReplayPaused,
                new NpgsqlLogSequenceNumber(st.ReplayLsn).ToString(), st.LagBytes, double.IsFinite(st.LagSeconds) ? st.LagSeconds : null, st.Error, st.CheckedAt)
            : null!).ToList();
        return TypedResults.Ok(new ReplicationView(rows, routing, set.Options.MaxLag.TotalSeconds));
    }
}
