using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

/// <summary>
/// The one archival walk (todoscale_archive_walk_next) as its two callers use it: the function in a loop in
/// one transaction, the procedure once per transaction with its own progress messages and, before every
/// batch, the check for a migration that started between two commits.
/// </summary>
public sealed class ArchivalWalkTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public Task the_procedure_walking_a_backlog_stops_at_the_first_batch_after_a_migration_starts_and_keeps_what_it_committed() =>
        StopsWhenAMigrationStartsAsync(backlog: true);

    [Fact(Timeout = TestTimeouts.Long)]
    public Task the_procedure_batching_through_the_index_stops_at_the_first_batch_after_a_migration_starts_and_keeps_what_it_committed() =>
        StopsWhenAMigrationStartsAsync(backlog: false);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_procedure_reports_every_twentieth_batch_and_the_total_and_the_function_counts_the_same_batches()
    {
        var cs = await server.CreateMigratedDatabaseAsync("walk_progress");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 40, todosPerUser: 120, doneDaysAgo: 45);
        var notices = new List<string>();
        conn.Notice += (_, e) => notices.Add(e.Notice.MessageText);

        // 1,600 old done todos, a third of every heap page: a backlog, one page (some 20 rows) per batch of 10.
        await Exec(conn, "CALL archive_completed_todos_in_batches(30, 10)");

        var soFar = notices.Where(n => n.StartsWith("archived ", StringComparison.Ordinal) && n.EndsWith(" rows so far", StringComparison.Ordinal))
            .Select(n => long.Parse(n.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(soFar.Count >= 2, $"expected a progress notice every 20 one-page batches, got: {string.Join(" | ", notices)}");
        Assert.Equal(soFar.Order(), soFar);
        Assert.All(soFar, n => Assert.InRange(n, 20, 1_600));
        Assert.Equal("archived 1600 rows in total", notices[^1]);

        // The function on a trickle: five rows, batches of two, through the index.
        await Exec(conn, """
            UPDATE todos_active SET status = 'done', completed_at = now() - interval '40 days'
            WHERE id IN (SELECT id FROM todos_active WHERE status <> 'done' ORDER BY id LIMIT 5)
            """);
        var trickle = await Scalar<string>(conn, """
            SELECT format('%s rows in %s batches from %s partitions into %s', moved, batches, cardinality(active_partitions),
                          array_to_string(archived_partitions, ','))
            FROM todoscale_archive(30, 2)
            """);

        Assert.StartsWith("5 rows in 3 batches from ", trickle);
        Assert.Equal(1_605L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
    }

    private async Task StopsWhenAMigrationStartsAsync(bool backlog)
    {
        var cs = await server.CreateMigratedDatabaseAsync(backlog ? "walk_stop_pages" : "walk_stop_index");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 40, todosPerUser: 60, doneDaysAgo: backlog ? 45 : 10);
        if (!backlog)
        {
            // Ten eligible rows among 2,400: far fewer than two per heap page, so batches go through the index.
            await Exec(conn, """
                UPDATE todos_active SET completed_at = now() - interval '40 days'
                WHERE id IN (SELECT id FROM todos_active WHERE status = 'done' ORDER BY id LIMIT 10)
                """);
        }

        var eligible = await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done' AND completed_at < now() - interval '30 days'");
        var notices = new List<string>();
        conn.Notice += (_, e) => notices.Add(e.Notice.MessageText);
        await using var watcher = await server.OpenAsync(cs);

        var call = Exec(conn, "CALL archive_completed_todos_in_batches(30, $1, throttle => $2)",
            backlog ? 25 : 1, TimeSpan.FromMilliseconds(backlog ? 150 : 300));
        while (await Scalar<long>(watcher, "SELECT count(*) FROM todos_archived") == 0)
        {
            Assert.False(call.IsCompleted, "the procedure ended before any batch was seen committed");
            await Task.Delay(10, Ct);
        }

        // What migration_start() does first; it waits for a batch in flight, whose check holds the row FOR SHARE.
        await Exec(watcher, "UPDATE migration_state SET state = 'migrating'");
        await call;
        var archived = await Scalar<long>(conn, "SELECT count(*) FROM todos_archived");

        Assert.InRange(archived, 1, eligible - 1);
        Assert.Equal(
            $"archive_completed_todos_in_batches stopped after {archived} rows: a migration is mirroring todos (state migrating): " +
            "archiving now would leave ids in both new tables; archival resumes after `todoscale migrate cutover`",
            notices[^1]);
        Assert.DoesNotContain(notices, n => n.EndsWith("rows in total", StringComparison.Ordinal));

        // After the migration, the next run moves exactly what is left.
        await Exec(watcher, "UPDATE migration_state SET state = 'cut_over'");
        await Exec(conn, "CALL archive_completed_todos_in_batches(30, 25)");
        Assert.Equal($"archived {eligible - archived} rows in total", notices[^1]);
        Assert.Equal(eligible, await Scalar<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        Assert.Equal(eligible, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived"));
    }
}
