using Npgsql;

namespace TodoScale.Testing;

/// <summary>
/// For tests whose expected outcome depends on the UTC month that product SQL reads from PostgreSQL's now()
/// (ensure_future_partitions(), check_partition_health(), the retention and clustering functions): that
/// clock cannot be pinned, so such a test starts with <see cref="CurrentMonthAsync"/>, which returns the month
/// once no turn of the month can fall inside the test, and derives every month it names from that one value.
/// </summary>
public static class MonthBoundary
{
    /// <summary>
    /// The first day (UTC) of the database's current month. When less than <paramref name="clearance"/> is left of
    /// it, waits for the next month first: a month that turned half-way would leave the test's expectations one
    /// month behind what the product saw.
    /// </summary>
    public static async Task<DateTime> CurrentMonthAsync(NpgsqlConnection conn, TimeSpan clearance, CancellationToken ct = default)
    {
        var left = await UntilNextMonthAsync(conn, ct);
        if (left < clearance)
        {
            // A second past the turn, so the next reading is certainly in the new month.
            await Task.Delay(left + TimeSpan.FromSeconds(1), ct);
        }

        await using var cmd = new NpgsqlCommand("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')", conn);
        return DateTime.SpecifyKind((DateTime)(await cmd.ExecuteScalarAsync(ct))!, DateTimeKind.Utc);
    }

    private static async Task<TimeSpan> UntilNextMonthAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month' - (now() AT TIME ZONE 'UTC'))::float8", conn);
        return TimeSpan.FromSeconds((double)(await cmd.ExecuteScalarAsync(ct))!);
    }
}
