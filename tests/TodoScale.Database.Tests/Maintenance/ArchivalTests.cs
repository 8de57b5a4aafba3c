using TodoScale.Database.Maintenance;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

public sealed class ArchivalTests(PostgresServer server)
{
    [Fact]
    public async Task a_todo_completed_31_days_ago_moves_to_the_archive_with_every_column_and_one_completed_29_days_ago_stays()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_window");
        await using var conn = await server.OpenAsync(cs);
        var user = await Scalar<Guid>(conn, "INSERT INTO users (email) VALUES ('window@example.com') RETURNING id");
        var old = await Scalar<Guid>(conn, """
            INSERT INTO todos_active (user_id, parent_todo_id, project_id, title, description, status, priority, due_date,
                                      completed_at, ai_generated, created_at, updated_at)
            VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'file taxes', 'before April', 'done', 4, now() - interval '35 days',
                    now() - interval '31 days', true, now() - interval '90 days', now() - interval '31 days')
            RETURNING id
            """, user);
        var recent = await Scalar<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status, completed_at) VALUES ($1, 'recent', 'done', now() - interval '29 days') RETURNING id", user);
        var open = await Scalar<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status) VALUES ($1, 'still open', 'todo') RETURNING id", user);
        var before = await Scalar<string>(conn, "SELECT to_jsonb(t)::text FROM todos_active t WHERE id = $1", old);

        var moved = await Scalar<long>(conn, "SELECT archive_completed_todos()");

        Assert.Equal(1L, moved);
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", old));
        var after = await Scalar<string>(conn, "SELECT (to_jsonb(t) - 'archived_at')::text FROM todos_archived t WHERE id = $1", old);
        Assert.Equal(before, after);
        Assert.True(await Scalar<bool>(conn, "SELECT archived_at > now() - interval '1 minute' FROM todos_archived WHERE id = $1", old));
        Assert.Equal(1L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", recent));
        Assert.Equal(1L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", open));
    }

    [Fact]
    public async Task archive_completed_todos_0_archives_every_done_todo_and_no_open_one()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_zero");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 10, todosPerUser: 30, doneDaysAgo: 0);
        var done = await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");

        var moved = await Scalar<long>(conn, "SELECT archive_completed_todos(0, 7)");

        Assert.Equal(done, moved);
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(300L - done, await Scalar<long>(conn, "SELECT count(*) FROM todos_active"));
        Assert.Equal(done, await Scalar<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
    }

    [Fact]
    public async Task archive_rejects_a_negative_day_count_with_a_clear_error()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_bad");
        await using var conn = await server.OpenAsync(cs);

        var e = await Assert.ThrowsAsync<PostgresException>(() => Scalar<long>(conn, "SELECT archive_completed_todos(-1)"));

        Assert.Equal("22023", e.SqlState);
        Assert.Contains("days must be 0 or more", e.MessageText);
    }

    [Fact]
    public async Task the_batched_procedure_commits_every_batch_and_moves_everything_eligible()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_proc");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 5, todosPerUser: 30, doneDaysAgo: 45);

        await Exec(conn, "CALL archive_completed_todos_in_batches(30, 4)");

        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(50L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived"));
    }

    // The application keeps working on the same todos while archival runs: every change that the
    // database reported as applied must be visible afterwards in exactly one of the two tables.
    [Fact]
    public async Task archival_while_other_connections_complete_reopen_update_and_delete_todos_loses_and_duplicates_nothing()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_race");
        await using var setup = await server.OpenAsync(cs);
        var users = await SeedAsync(setup, users: 24, todosPerUser: 60, doneDaysAgo: 40);
        var initial = new Dictionary<Guid, (Guid User, string Title, string Status)>();
        await using (var cmd = new NpgsqlCommand("SELECT id, user_id, title, status FROM todos_active", setup))
        await using (var reader = await cmd.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                initial[reader.GetGuid(0)] = (reader.GetGuid(1), reader.GetString(2), reader.GetString(3));
            }
        }

        const int workers = 3;
        var expected = new Dictionary<Guid, (string Title, string Status)?>();
        foreach (var (id, t) in initial)
        {
            expected[id] = (t.Title, t.Status);
        }

        using var stop = new CancellationTokenSource();
        var archived = 0L;
        var archiver = Task.Run(async () =>
        {
            await using var conn = await server.OpenAsync(cs);
            while (!stop.IsCancellationRequested)
            {
                archived += await Scalar<long>(conn, "SELECT archive_completed_todos(30, 25)");
            }
        }, Ct);

        // Each worker owns a disjoint set of users, so the expected final state of its todos is exactly
        // the sequence of its own statements that reported one row changed.
        var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var mine = initial.Where(kv => users.IndexOf(kv.Value.User) % workers == w).Select(kv => kv.Key).ToArray();
            var changes = new Dictionary<Guid, (string Title, string Status)?>();
            var random = new Random(w);
            await using var conn = await server.OpenAsync(cs);
            for (var i = 0; i < 300; i++)
            {
                var id = mine[random.Next(mine.Length)];
                var title = $"w{w} op{i}";
                switch (random.Next(4))
                {
                    case 0: // complete, old enough to be archived at once
                        if (await Exec(conn, "UPDATE todos_active SET status = 'done', completed_at = now() - interval '40 days', title = $2 WHERE id = $1 AND status <> 'done'", id, title) == 1)
                        {
                            changes[id] = (title, "done");
                        }

                        break;
                    case 1: // reopen, inside a transaction that holds the row lock for a moment
                        await using (var tx = await conn.BeginTransactionAsync(Ct))
                        {
                            var n = await Exec(conn, "UPDATE todos_active SET status = 'todo', completed_at = NULL, title = $2 WHERE id = $1 AND status = 'done'", id, title);
                            await Exec(conn, "SELECT pg_sleep(0.005)");
                            await tx.CommitAsync(Ct);
                            if (n == 1)
                            {
                                changes[id] = (title, "todo");
                            }
                        }

                        break;
                    case 2: // edit
                        var status = await Scalar<string?>(conn, "UPDATE todos_active SET title = $2 WHERE id = $1 RETURNING status", id, title);
                        if (status is not null)
                        {
                            changes[id] = (title, status);
                        }

                        break;
                    default: // delete
                        if (await Exec(conn, "DELETE FROM todos_active WHERE id = $1", id) == 1)
                        {
                            changes[id] = null;
                        }

                        break;
                }
            }

            return changes;
        }, Ct)));
        await stop.CancelAsync();
        await archiver;
        archived += await Scalar<long>(setup, "SELECT archive_completed_todos(30)");

        foreach (var changes in results)
        {
            foreach (var (id, state) in changes)
            {
                expected[id] = state;
            }
        }

        var actual = new Dictionary<Guid, (string Title, string Status)>();
        var duplicates = new List<Guid>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT id, title, status FROM todos_active UNION ALL SELECT id, title, status FROM todos_archived", setup))
        await using (var reader = await cmd.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                if (!actual.TryAdd(reader.GetGuid(0), (reader.GetString(1), reader.GetString(2))))
                {
                    duplicates.Add(reader.GetGuid(0));
                }
            }
        }

        Assert.Empty(duplicates);
        var wanted = expected.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!.Value);
        Assert.Equal(wanted.Count, actual.Count);
        foreach (var (id, state) in wanted)
        {
            Assert.True(actual.TryGetValue(id, out var got), $"todo {id} was lost");
            Assert.Equal(state, got);
        }

        Assert.Equal(archived, await Scalar<long>(setup, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(0L, await Scalar<long>(setup, "SELECT count(*) FROM todos_archived WHERE status <> 'done'"));
        Assert.Equal(0L, await Scalar<long>(setup,
            "SELECT count(*) FROM todos_active WHERE status = 'done' AND completed_at < now() - interval '30 days'"));
        Assert.True(archived > 480, $"archival should have moved the seeded done todos and more, moved {archived}");
    }

    [Fact]
    public async Task two_concurrent_daily_runs_archive_each_row_exactly_once()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_twice");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 20, todosPerUser: 60, doneDaysAgo: 40);
        await Exec(conn, "UPDATE maintenance_settings SET value = '50' WHERE name = 'archive_batch_size'");
        var eligible = await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");

        var runs = await Task.WhenAll(
            Task.Run(() => new MaintenanceRunner(cs).RunDailyAsync(Ct), Ct),
            Task.Run(() => new MaintenanceRunner(cs).RunDailyAsync(Ct), Ct));

        var archivedByRuns = runs.SelectMany(r => r.Steps).Where(s => s.Step == "archive").Sum(s => s.RowsAffected);
        Assert.Equal(eligible, archivedByRuns);
        Assert.Equal(eligible, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(eligible, await Scalar<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.All(runs, r => Assert.False(r.Failed, string.Join("; ", r.Steps)));
    }

    [Fact]
    public async Task a_run_while_another_holds_the_maintenance_lock_is_skipped_with_the_holder_named_and_recorded()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_busy");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 3, todosPerUser: 30, doneDaysAgo: 40);
        await using var other = await server.OpenAsync(cs);
        await Exec(other, "SELECT pg_advisory_lock(todoscale_maintenance_lock_key())");
        var otherPid = other.ProcessID;

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        Assert.True(run.Skipped);
        var step = Assert.Single(run.Steps);
        Assert.Equal("SKIPPED", step.Status);
        Assert.Contains($"pid {otherPid}", step.Detail);
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal("SKIPPED", await Scalar<string>(conn, "SELECT status FROM maintenance_history WHERE id = $1", run.RunId!.Value));

        await Exec(other, "SELECT pg_advisory_unlock(todoscale_maintenance_lock_key())");
        var next = await new MaintenanceRunner(cs).RunDailyAsync(Ct);
        Assert.False(next.Skipped);
        Assert.Equal(30L, next.Steps.Single(s => s.Step == "archive").RowsAffected);
    }
}
