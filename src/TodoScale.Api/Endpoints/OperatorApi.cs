using System.Collections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using TodoScale.Api.Hosting;

namespace TodoScale.Api.Endpoints;

/// <summary>
/// Read-only operator endpoints (token role = operator) over the SQL functions and tables of the migration
/// (phase 2) and maintenance (phase 3) scripts. Rows come back as column name -> value, so a column added to
/// those functions shows up without a change here; when a script is not applied yet the answer is 503.
/// </summary>
public static class OperatorApi
{
    public const string PartitionStatisticsSql = "SELECT * FROM get_partition_statistics()";
    public const string PartitionHealthSql = "SELECT * FROM check_partition_health()";
    public const string MaintenanceHistorySql = "SELECT * FROM maintenance_history ORDER BY started_at DESC LIMIT 50";
    public const string MigrationProgressSql = "SELECT * FROM migration_progress ORDER BY start_time DESC LIMIT 50";
    public const string BatchEngineSql = "SELECT * FROM batch_engine_status()";

    public static IEndpointRouteBuilder MapOperatorApi(this IEndpointRouteBuilder app)
    {
        var ops = app.MapGroup("/api/ops").RequireAuthorization(TodoScaleApi.OperatorPolicy).WithTags("Operators");
        ops.MapGet("/partitions", (NpgsqlDataSource ds, CancellationToken ct) => Rows(ds, PartitionStatisticsSql, ct))
            .WithSummary("get_partition_statistics()");
        ops.MapGet("/health", (NpgsqlDataSource ds, CancellationToken ct) => Rows(ds, PartitionHealthSql, ct))
            .WithSummary("check_partition_health()");
        ops.MapGet("/maintenance", (NpgsqlDataSource ds, CancellationToken ct) => Rows(ds, MaintenanceHistorySql, ct))
            .WithSummary("The last 50 maintenance runs (maintenance_history).");
        ops.MapGet("/migration", (NpgsqlDataSource ds, CancellationToken ct) => Rows(ds, MigrationProgressSql, ct))
            .WithSummary("The last 50 migration steps (migration_progress): batches with their size and time, splits, waits, and pauses with the health signal that caused them.");
        ops.MapGet("/migration/engine", (NpgsqlDataSource ds, CancellationToken ct) => Rows(ds, BatchEngineSql, ct))
            .WithSummary("batch_engine_status(): per job (migration, archival) the batch size now, its mode, and the health signal that pauses it, if any.");
        return app;
    }

    private static async Task<Ok<List<Dictionary<string, object?>>>> Rows(NpgsqlDataSource dataSource, string sql, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync(ct))
        {
            var row = new Dictionary<string, object?>(reader.FieldCount);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : Json(reader.GetValue(i));
            }

            rows.Add(row);
        }

        return TypedResults.Ok(rows);
    }

    /// <summary>Values JSON can carry as they are; anything else (inet, ranges, ...) as its text.</summary>
    private static object? Json(object value) => value switch
    {
        string or bool or short or int or long or decimal or double or float or Guid or DateTime or DateTimeOffset or DateOnly or TimeOnly => value,
        TimeSpan t => t.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        Array a => a.Cast<object?>().Select(v => v is null ? null : Json(v)).ToList(),
        IEnumerable and not string => value.ToString(),
        _ => value.ToString(),
    };
}
