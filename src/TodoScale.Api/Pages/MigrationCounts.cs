namespace TodoScale.Api.Pages;

/// <summary>
/// The migration panel's figures without counting the legacy table on every poll. migration_status() counts the rows of
/// <c>todos</c> (and those after the backfill's cursor): on a table of tens of millions that is seconds of reading, and every open
/// console asks every 2 s. So it runs at most every <see cref="CountEvery"/> (or when the state changes) per server; in
/// between, the state, rows copied and batches come from the one-row migration_state (cheap, never blocked by a batch's
/// lock), and the rows remaining are the last count minus what was copied since (rows the application adds meanwhile
/// appear at the next count).
/// </summary>
public sealed class MigrationCounts
{
    public static readonly TimeSpan CountEvery = TimeSpan.FromSeconds(15);
    public const string StatusSql = "SELECT * FROM migration_status()";
    public const string StateSql =
        "SELECT state, archive_cutoff, rows_moved, batches, last_key, started_at, last_batch_at, completed_at, cutover_at, rolled_back_at FROM migration_state";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, object?>? _counted;
    private DateTimeOffset _countedAt;

    public async Task<Dictionary<string, object?>?> StatusAsync(Func<string, Task<List<Dictionary<string, object?>>>> rows, CancellationToken ct)
    {
        var state = (await rows(StateSql)).FirstOrDefault();
        await _gate.WaitAsync(ct);
        try
        {
            var now = DateTimeOffset.UtcNow;
            if (_counted is null || state is null || now - _countedAt > CountEvery || !Equals(_counted["state"], state["state"]))
            {
                _counted = (await rows(StatusSql)).FirstOrDefault();
                _countedAt = now;
                return _counted;
            }

            var merged = new Dictionary<string, object?>(_counted);
            foreach (var (key, value) in state)
            {
                merged[key] = value;
            }

            if (_counted["rows_remaining"] is long remaining && _counted["rows_moved"] is long movedThen && state["rows_moved"] is long movedNow)
            {
                merged["rows_remaining"] = Math.Max(0, remaining - (movedNow - movedThen));
            }

            return merged;
        }
        finally
        {
            _gate.Release();
        }
    }
}
