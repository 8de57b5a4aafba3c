using TodoScale.Database.Maintenance;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

public sealed class ArchivalTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_completed_31_days_ago_moves_to_the_archive_with_every_column_and_one_completed_29_days_ago_stays()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_window");
        await using var conn = await server.OpenAsync(cs);
        var user = await ScalarAsync<Guid>(conn, "INSERT INTO users (email) VALUES ('window@example.com') RETURNING id");
        var old = await ScalarAsync<Guid>(conn, """
            INSERT INTO todos_active (user_id, parent_todo_id, project_id, title, description, status, priority, due_date,
                                      completed_at, ai_generated, created_at, updated_at)
            VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'file taxes', 'before April', 'done', 4, now() - interval '35 days',
                    now() - interval '31 days', true, now() - interval '90 days', now() - interval '31 days')
            RETURNING id
            """, user);
        var recent = await ScalarAsync<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status, completed_at) VALUES ($1, 'recent', 'done', now() - interval '29 days') RETURNING id", user);
        var open = await ScalarAsync<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status) VALUES ($1, 'still open', 'todo') RETURNING id", user);
        var before = await ScalarAsync<string>(conn, "SELECT to_jsonb(t)::text FROM todos_active t WHERE id = $1", old);

        var moved = await ScalarAsync<long>(conn, "SELECT archive_completed_todos()");

        Assert.Equal(1L, moved);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", old));
        var after = await ScalarAsync<string>(conn, "SELECT (to_jsonb(t) - 'archived_at')::text FROM todos_archived t WHERE id = $1", old);
        Assert.Equal(before, after);
        Assert.True(await ScalarAsync<bool>(conn, "SELECT archived_at > now() - interval '1 minute' FROM todos_archived WHERE id = $1", old));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", recent));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE id = $1", open));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task archive_completed_todos_0_archives_every_done_todo_and_no_open_one()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_zero");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 10, todosPerUser: 30, doneDaysAgo: 0);
        var done = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");

        var moved = await ScalarAsync<long>(conn, "SELECT archive_completed_todos(0, 7)");

        Assert.Equal(done, moved);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(300L - done, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active"));
        Assert.Equal(done, await ScalarAsync<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task archive_rejects_a_negative_day_count_with_a_clear_error()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_bad");
        await using var conn = await server.OpenAsync(cs);

        var e = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync<long>(conn, "SELECT archive_completed_todos(-1)"));

        Assert.Equal("22023", e.SqlState);
        Assert.Contains("days must be 0 or more", e.MessageText);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_batched_procedure_commits_every_batch_and_moves_everything_eligible()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_proc");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 5, todosPerUser: 30, doneDaysAgo: 45);

        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 4)");

        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(50L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_procedure_walks_a_backlog_page_by_page_and_moves_every_old_done_todo_once_with_every_column_leaving_recent_and_open_ones()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_pages");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 40, todosPerUser: 60, doneDaysAgo: 45);
        // A backlog: 800 old done todos over a few dozen heap pages, far more than two per page.
        await ExecAsync(conn, "INSERT INTO todos_active (user_id, title, status, completed_at) SELECT id, 'recent', 'done', now() - interval '10 days' FROM users");
        var before = await ScalarAsync<string>(conn, """
            SELECT string_agg(to_jsonb(t)::text, '|' ORDER BY id) FROM todos_active t WHERE status = 'done' AND completed_at < now() - interval '30 days'
            """);
        var open = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status <> 'done'");

        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 25)");

        Assert.Equal(800L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(800L, await ScalarAsync<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        Assert.Equal(before, await ScalarAsync<string>(conn, "SELECT string_agg((to_jsonb(a) - 'archived_at')::text, '|' ORDER BY id) FROM todos_archived a"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done' AND completed_at < now() - interval '30 days'"));
        Assert.Equal(40L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.Equal(open, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status <> 'done'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_daily_job_on_a_backlog_walks_the_pages_and_records_every_partition_it_wrote_for_its_vacuum()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_daily_backlog");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 40, todosPerUser: 60, doneDaysAgo: 45);
        var sources = await ScalarAsync<string>(conn, """
            SELECT string_agg(DISTINCT tableoid::regclass::text, ',' ORDER BY tableoid::regclass::text)
            FROM todos_active WHERE status = 'done'
            """);

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        var archive = run.Steps.Single(s => s.Step == "archive");
        Assert.Equal(800L, archive.RowsAffected);
        Assert.Equal(800L, await ScalarAsync<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        var vacuumed = run.Steps.Single(s => s.Step == "vacuum").Detail!;
        foreach (var partition in sources.Split(','))
        {
            Assert.Contains(partition, vacuumed);
        }

        // 45 days ago is a month without its partition yet: archival wrote into DEFAULT, which the partitions step then emptied.
        Assert.Contains("todos_archived_default", vacuumed);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_procedure_takes_a_few_old_done_todos_among_many_through_the_index_and_moves_only_those()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_sparse");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 40, todosPerUser: 60, doneDaysAgo: 10);
        // Five eligible rows among 2,400: far fewer than two per heap page.
        var old = await ColumnAsync<Guid>(conn, """
            UPDATE todos_active SET completed_at = now() - interval '40 days'
            WHERE id IN (SELECT id FROM todos_active WHERE status = 'done' ORDER BY id LIMIT 5) RETURNING id
            """);

        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 2)");

        Assert.Equal(old.Order(), await ColumnAsync<Guid>(conn, "SELECT id FROM todos_archived ORDER BY id"));
        Assert.Equal(2_395L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_done_todo_the_application_holds_locked_is_left_for_the_next_run_instead_of_waited_for()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_locked");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 10, todosPerUser: 60, doneDaysAgo: 45);
        await using var app = await server.OpenAsync(cs);
        await using var tx = await app.BeginTransactionAsync(Ct);
        var held = await ScalarAsync<Guid>(app, "SELECT id FROM todos_active WHERE status = 'done' ORDER BY id LIMIT 1 FOR UPDATE");

        await ExecAsync(conn, "SET lock_timeout = '10s'");
        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 50)");
        var leftActive = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");
        await tx.CommitAsync(Ct);
        await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 50)");

        Assert.Equal(1L, leftActive);
        Assert.Equal(200L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(1L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived WHERE id = $1", held));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task throttle_pauses_after_each_committed_batch_so_other_sessions_see_the_archive_grow_and_a_negative_throttle_is_refused()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_throttle");
        await using var conn = await server.OpenAsync(cs);
        // Four users with a few heap pages each: batches of 30 rows take a page or two at a time, so several batches.
        await SeedAsync(conn, users: 4, todosPerUser: 200, doneDaysAgo: 45);
        var eligible = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");
        await using var watcher = await server.OpenAsync(cs);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var call = ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 30, throttle => '300 ms')");
        long seenMidway = 0;
        while (!call.IsCompleted && seenMidway == 0)
        {
            var archived = await ScalarAsync<long>(watcher, "SELECT count(*) FROM todos_archived");
            seenMidway = archived > 0 && archived < eligible ? archived : 0;
            await Task.Delay(20, Ct);
        }

        await call;
        var elapsed = clock.Elapsed;
        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 100, throttle => '-1 s')"));

        Assert.True(seenMidway > 0, "no session saw a committed batch while the procedure paused");
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(600), $"two or more batches with a 300 ms pause after each took only {elapsed}");
        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal("22023", refused.SqlState);
        Assert.Contains("throttle must be 0 or more", refused.MessageText);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task running_003_over_the_two_argument_procedure_of_an_earlier_install_leaves_one_procedure_that_old_calls_still_reach()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_upgrade");
        await using (var conn = await server.OpenAsync(cs))
        {
            // The procedure as 003 defined it before throttle existed.
            await ExecAsync(conn, """
                DROP PROCEDURE archive_completed_todos_in_batches;
                CREATE PROCEDURE archive_completed_todos_in_batches(days int DEFAULT 30, batch_size int DEFAULT 5000)
                LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the old procedure ran'; END; $$;
                """);
        }

        var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("003_create_maintenance_jobs.sql"));
        await using var db = await server.OpenAsync(cs);
        await SeedAsync(db, users: 3, todosPerUser: 30, doneDaysAgo: 45);
        await ExecAsync(db, "CALL archive_completed_todos_in_batches(30, 5000)");

        Assert.True(code == 0, output);
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM pg_proc WHERE proname = 'archive_completed_todos_in_batches'"));
        Assert.Equal(30L, await ScalarAsync<long>(db, "SELECT count(*) FROM todos_archived"));
    }

    // The application keeps working on the same todos while archival runs: every change that the
    // database reported as applied must be visible afterwards in exactly one of the two tables.
    [Fact(Timeout = TestTimeouts.Database)]
    public Task archival_while_other_connections_complete_reopen_update_and_delete_todos_loses_and_duplicates_nothing() =>
        ArchiveWhileTheApplicationWritesAsync(procedure: false);

    // The same with the procedure walking the pages of a backlog (ctid range, FOR UPDATE SKIP LOCKED, delete by ctid)
    // while rows are completed, reopened, edited and deleted under it.
    [Fact(Timeout = TestTimeouts.Database)]
    public Task the_procedure_walking_pages_while_other_connections_complete_reopen_update_and_delete_todos_loses_and_duplicates_nothing() =>
        ArchiveWhileTheApplicationWritesAsync(procedure: true);

    private async Task ArchiveWhileTheApplicationWritesAsync(bool procedure)
    {
        var cs = await server.CreateMigratedDatabaseAsync(procedure ? "archive_race_proc" : "archive_race");
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
                if (procedure)
                {
                    await ExecAsync(conn, "CALL archive_completed_todos_in_batches(30, 25)");
                }
                else
                {
                    archived += await ScalarAsync<long>(conn, "SELECT archive_completed_todos(30, 25)");
                }
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
                        if (await ExecAsync(conn, "UPDATE todos_active SET status = 'done', completed_at = now() - interval '40 days', title = $2 WHERE id = $1 AND status <> 'done'", id, title) == 1)
                        {
                            changes[id] = (title, "done");
                        }

                        break;
                    case 1: // reopen, inside a transaction that holds the row lock for a moment
                        await using (var tx = await conn.BeginTransactionAsync(Ct))
                        {
                            var n = await ExecAsync(conn, "UPDATE todos_active SET status = 'todo', completed_at = NULL, title = $2 WHERE id = $1 AND status = 'done'", id, title);
                            await ExecAsync(conn, "SELECT pg_sleep(0.005)");
                            await tx.CommitAsync(Ct);
                            if (n == 1)
                            {
                                changes[id] = (title, "todo");
                            }
                        }

                        break;
                    case 2: // edit
                        var status = await ScalarAsync<string?>(conn, "UPDATE todos_active SET title = $2 WHERE id = $1 RETURNING status", id, title);
                        if (status is not null)
                        {
                            changes[id] = (title, status);
                        }

                        break;
                    default: // delete
                        if (await ExecAsync(conn, "DELETE FROM todos_active WHERE id = $1", id) == 1)
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
        if (procedure)
        {
            // A row the application held locked, or moved to a page already walked, waits for the next run: this one.
            await ExecAsync(setup, "CALL archive_completed_todos_in_batches(30)");
            archived = await ScalarAsync<long>(setup, "SELECT count(*) FROM todos_archived");
        }
        else
        {
            archived += await ScalarAsync<long>(setup, "SELECT archive_completed_todos(30)");
        }

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

        Assert.Equal(archived, await ScalarAsync<long>(setup, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(0L, await ScalarAsync<long>(setup, "SELECT count(*) FROM todos_archived WHERE status <> 'done'"));
        Assert.Equal(0L, await ScalarAsync<long>(setup,
            "SELECT count(*) FROM todos_active WHERE status = 'done' AND completed_at < now() - interval '30 days'"));
        Assert.True(archived > 480, $"archival should have moved the seeded done todos and more, moved {archived}");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task two_concurrent_daily_runs_archive_each_row_exactly_once()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_twice");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 20, todosPerUser: 60, doneDaysAgo: 40);
        await ExecAsync(conn, "UPDATE maintenance_settings SET value = '50' WHERE name = 'archive_batch_size'");
        var eligible = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'");

        var runs = await Task.WhenAll(
            Task.Run(() => new MaintenanceRunner(cs).RunDailyAsync(Ct), Ct),
            Task.Run(() => new MaintenanceRunner(cs).RunDailyAsync(Ct), Ct));

        var archivedByRuns = runs.SelectMany(r => r.Steps).Where(s => s.Step == "archive").Sum(s => s.RowsAffected);
        Assert.Equal(eligible, archivedByRuns);
        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal(eligible, await ScalarAsync<long>(conn, "SELECT count(DISTINCT id) FROM todos_archived"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_active WHERE status = 'done'"));
        Assert.All(runs, r => Assert.False(r.Failed, string.Join("; ", r.Steps)));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_run_while_another_holds_the_maintenance_lock_is_skipped_with_the_holder_named_and_recorded()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_busy");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 3, todosPerUser: 30, doneDaysAgo: 40);
        await using var other = await server.OpenAsync(cs);
        await ExecAsync(other, "SELECT pg_advisory_lock(todoscale_maintenance_lock_key())");
        var otherPid = other.ProcessID;

        var run = await new MaintenanceRunner(cs).RunDailyAsync(Ct);

        Assert.True(run.Skipped);
        var step = Assert.Single(run.Steps);
        Assert.Equal("SKIPPED", step.Status);
        Assert.Contains($"pid {otherPid}", step.Detail);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.Equal("SKIPPED", await ScalarAsync<string>(conn, "SELECT status FROM maintenance_history WHERE id = $1", run.RunId!.Value));

        await ExecAsync(other, "SELECT pg_advisory_unlock(todoscale_maintenance_lock_key())");
        var next = await new MaintenanceRunner(cs).RunDailyAsync(Ct);
        Assert.False(next.Skipped);
        Assert.Equal(30L, next.Steps.Single(s => s.Step == "archive").RowsAffected);
    }
}
