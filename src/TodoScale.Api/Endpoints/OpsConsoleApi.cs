using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using TodoScale.Api.Hosting;
using TodoScale.Api.Pages;

namespace TodoScale.Api.Endpoints;

/// <summary>
/// What the operator console (/ops) reads beyond <see cref="OperatorApi"/>: index usage, maintenance runs with their
/// steps, the migration's live figures (rows/s and ETA from the recent batches), and the actions it starts. Operator
/// role, like every /api/ops endpoint; the actions are POSTs, so a cookie session must send its CSRF token.
/// </summary>
public static class OpsConsoleApi
{
    public const string IndexUsageSql = "SELECT * FROM get_index_usage_stats() ORDER BY index_scans DESC, size_mb DESC";
    public const string MaintenanceRunsSql = "SELECT id, job, started_at, finished_at, status, summary FROM maintenance_history ORDER BY started_at DESC, id DESC LIMIT $1";
    public const string MaintenanceStepsSql = """
        SELECT history_id, step, status, rows_affected, duration_ms, CASE WHEN status = 'FAILED' THEN error ELSE detail END AS detail
        FROM maintenance_job_log WHERE history_id = ANY($1) ORDER BY id
        """;
    public const string RecentBatchesSql = "SELECT id, step, start_time, end_time, rows_moved, status, detail FROM migration_progress ORDER BY start_time DESC, id DESC LIMIT 12";

    // The copy rate over the batches of the last 30 s before the newest one: a rate since the start would hide a
    // slowdown (a lock wait, a busy server) for minutes, and one batch alone jumps around.
    public const string RecentRateSql = """
        SELECT coalesce(sum(rows_moved), 0)::bigint, coalesce(extract(epoch FROM max(end_time) - min(start_time)), 0)::float8
        FROM migration_progress
        WHERE step = 'batch' AND end_time >= (SELECT max(end_time) FROM migration_progress WHERE step = 'batch') - interval '30 seconds'
        """;

    public const string CitusInstalledSql = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

    // Every node of the cluster with its shard placements and their bytes (citus_shards reads the workers' sizes).
    public const string CitusNodesSql = """
        SELECT n.nodename AS node, n.nodeport AS port, CASE WHEN n.groupid = 0 THEN 'coordinator' ELSE 'worker' END AS kind,
               n.isactive AS active, count(s.shardid) AS shards, round(coalesce(sum(s.shard_size), 0) / 1048576.0, 1) AS size_mb
        FROM pg_dist_node n
        LEFT JOIN citus_shards s ON s.nodename = n.nodename AND s.nodeport = n.nodeport
        GROUP BY n.nodeid, n.nodename, n.nodeport, n.groupid, n.isactive
        ORDER BY n.groupid, n.nodeport
        """;

    public static IEndpointRouteBuilder MapOpsConsoleApi(this IEndpointRouteBuilder app)
    {
        var ops = app.MapGroup("/api/ops").RequireAuthorization(TodoScaleApi.OperatorPolicy).WithTags("Operators");
        ops.MapGet("/indexes", async (NpgsqlDataSource ds, CancellationToken ct) => TypedResults.Ok(await RowsAsync(ds, IndexUsageSql, ct)))
            .WithSummary("get_index_usage_stats(), most used first.");
        ops.MapGet("/citus", CitusNodes).WithSummary("The Citus nodes with their shards and sizes; 404 where the database has no Citus.");
        ops.MapGet("/maintenance/runs", MaintenanceRuns).WithSummary("The last 20 maintenance runs, each with its steps (maintenance_job_log).");
        ops.MapGet("/migration/live", MigrationLive)
            .WithSummary("migration_status() with the copy rate of the recent batches, the ETA, the last batches and the last validation of this server.");
        ops.MapGet("/actions", (OpsActions actions) => TypedResults.Ok(actions.Recent())).WithSummary("The console's recent actions.");
        ops.MapGet("/actions/{id}", (string id, OpsActions actions) =>
                Guid.TryParse(id, out var g) && actions.Find(g) is { } a
                    ? Results.Ok(a)
                    : Results.Problem(statusCode: 404, title: "Not found", detail: "The action does not exist."))
            .WithSummary("One action: running, or its result.");
        ops.MapPost("/actions/{kind}", (string kind, OpsActions actions, ClaimsPrincipal user) =>
            {
                if (!OpsActions.Kinds.Contains(kind))
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["kind"] = [$"must be one of {string.Join(", ", OpsActions.Kinds)}"],
                    });
                }

                var (action, alreadyRunning) = actions.Start(kind, user.FindFirst("email")?.Value ?? user.Identity?.Name);
                return Results.Accepted($"/api/ops/actions/{action.Id}", new { action, alreadyRunning });
            })
            .WithSummary("Start daily-maintenance or validate-migration in the background; poll the returned action.");
        return app;
    }

    private static async Task<IResult> CitusNodes(NpgsqlDataSource ds, CancellationToken ct)
    {
        await using (var check = ds.CreateCommand(CitusInstalledSql))
        {
            if (await check.ExecuteScalarAsync(ct) is not true)
            {
                return TypedResults.Problem(statusCode: 404, title: "Not found", detail: "This database has no Citus extension: it runs on one server.");
            }
        }

        return TypedResults.Ok(await RowsAsync(ds, CitusNodesSql, ct));
    }

    private static async Task<IResult> MaintenanceRuns(NpgsqlDataSource ds, CancellationToken ct)
    {
        var runs = await RowsAsync(ds, MaintenanceRunsSql, ct, 20);
        var ids = runs.Select(r => (long)r["id"]!).ToArray();
        var steps = ids.Length == 0 ? [] : await RowsAsync(ds, MaintenanceStepsSql, ct, ids);
        var byRun = steps.ToLookup(s => (long)s["history_id"]!);
        foreach (var run in runs)
        {
            run["steps"] = byRun[(long)run["id"]!].Select(s =>
            {
                s.Remove("history_id");
                return s;
            }).ToList();
        }

        return TypedResults.Ok(runs);
    }

    private static async Task<IResult> MigrationLive(NpgsqlDataSource ds, OpsActions actions, MigrationCounts counts, CancellationToken ct)
    {
        var status = await counts.StatusAsync(sql => RowsAsync(ds, sql, ct), ct);
        var batches = await RowsAsync(ds, RecentBatchesSql, ct);
        double? rate = null;
        await using (var cmd = ds.CreateCommand(RecentRateSql))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct) && reader.GetDouble(1) > 0)
            {
                rate = reader.GetInt64(0) / reader.GetDouble(1);
            }
        }

        var remaining = status?["rows_remaining"] is long r ? r : (long?)null;
        var moved = status?["rows_moved"] is long m ? m : 0;
        double? eta = status?["state"] is "migrating" && remaining is > 0 && rate is > 0 ? remaining / rate : null;
        double? percent = remaining is null ? null : moved + remaining.Value == 0 ? 100 : 100.0 * moved / (moved + remaining.Value);
        return TypedResults.Ok(new
        {
            status,
            rowsPerSecond = rate is null ? (double?)null : Math.Round(rate.Value, 1),
            etaSeconds = eta is null ? (double?)null : Math.Ceiling(eta.Value),
            percent = percent is null ? (double?)null : Math.Round(percent.Value, 1),
            batches,
            lastValidation = actions.LastValidation(),
        });
    }

    private static async Task<List<Dictionary<string, object?>>> RowsAsync(NpgsqlDataSource ds, string sql, CancellationToken ct, params object[] parameters)
    {
        await using var cmd = ds.CreateCommand(sql);
        foreach (var p in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync(ct))
        {
            var row = new Dictionary<string, object?>(reader.FieldCount);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                var value = reader.IsDBNull(i) ? null : reader.GetValue(i);
                row[reader.GetName(i)] = value is TimeSpan t ? t.ToString("c", CultureInfo.InvariantCulture) : value;
            }

            rows.Add(row);
        }

        return rows;
    }
}
