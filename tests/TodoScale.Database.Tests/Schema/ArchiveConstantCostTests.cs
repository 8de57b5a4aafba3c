using System.Text.RegularExpressions;

namespace TodoScale.Database.Tests.Schema;

/// <summary>
/// 009_archive_constant_cost.sql: a user's archive page, an archived todo by id and the archive's count of a week read
/// only the months they need, whatever the number of months, and answer exactly what the unbounded statements answer.
/// How much they read is told by the partition locks the call leaves in its transaction: PostgreSQL 15 locks every
/// partition a plan may touch, so a month that is locked is a month the plan opened.
/// History here lies in 2021–2023 (fixed dates, with partitions of their own), far from today's partitions.
/// </summary>
public sealed partial class ArchiveConstantCostTests(PostgresServer server)
{
    private const int Months = 36;
    private static readonly DateTime FirstMonth = new(2021, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_first_archive_page_opens_no_month_a_page_past_the_recent_rows_only_its_own_and_the_generic_select_every_month()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_page_locks");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 4);
        var partitions = await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass");
        var kept = await ScalarAsync<int>(conn, "SELECT todoscale_archived_recent_rows()");
        // 144 rows: the newest are in todos_archived_recent, the rest only in their months.
        var newest = await RowsAsync(conn, "SELECT completed_at, id FROM todos_archived WHERE user_id = $1 ORDER BY completed_at DESC, id DESC",
            r => (At: r.GetDateTime(0), Id: r.GetGuid(1)), user);

        var (firstPage, firstLocks) = await InTransactionAsync(conn, async () =>
            (await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 5)", user),
             await ArchiveLocksAsync(conn)));
        var past = newest[kept + 3];
        var (deepMonths, deepLocks) = await InTransactionAsync(conn, async () =>
        {
            var rows = await ColumnAsync<DateTime>(conn, "SELECT completed_at FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, $2, $3, 5)",
                user, past.At, past.Id);
            return (rows.Select(r => (r.Year, r.Month)).Distinct().Count(), await ArchiveLocksAsync(conn));
        });
        var genericLocks = await InTransactionAsync(conn, async () =>
        {
            await ExecAsync(conn, "PREPARE unbounded(uuid) AS SELECT id FROM todos_archived WHERE user_id = $1 ORDER BY completed_at DESC, id DESC LIMIT 5");
            await ExecAsync(conn, $"EXECUTE unbounded('{user}')");
            return await ArchiveLocksAsync(conn);
        });

        Assert.Equal(newest.Take(5).Select(n => n.Id), firstPage);
        Assert.Equal(0, firstLocks);
        Assert.True(newest.Count > kept + 10, $"{newest.Count} rows: none lies past the recent rows");
        // The months path counts the cursor's own month, whose rows above the cursor were already shown: it may open
        // that month and read on one range further, never more.
        Assert.Equal(2, deepMonths);
        Assert.InRange(deepLocks, deepMonths, deepMonths + 2);
        Assert.Equal(partitions, genericLocks);
        Assert.True(partitions > Months, $"{partitions} partitions");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_archive_older_than_the_recent_rows_is_paged_from_its_months_until_the_backfill_plan_has_added_it()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_recent_backfill");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 3);
        var light = await SeedHistoryAsync(conn, rowsPerMonth: 1, months: 20);
        // An installation from before todos_archived_recent: its archive is not in it and nothing says it is ready.
        await ExecAsync(conn, """
            TRUNCATE todos_archived_recent, todos_archived_recent_floor, todoscale_archive_recent_backfilled;
            UPDATE todoscale_archive_recent_state SET ready = false;
            """);
        const string expected = "SELECT id FROM todos_archived WHERE user_id = $1 ORDER BY completed_at DESC, id DESC LIMIT 21";
        const string page = "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 21)";

        var before = await ColumnAsync<Guid>(conn, page, user);
        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step");
        foreach (var statement in plan)
        {
            await ExecAsync(conn, statement);
        }

        var (after, locks) = await InTransactionAsync(conn, async () => (await ColumnAsync<Guid>(conn, page, user), await ArchiveLocksAsync(conn)));
        var kept = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent WHERE user_id = $1", user);
        var keptLight = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent WHERE user_id = $1", light);
        var floors = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent_floor WHERE user_id = ANY($1)", new[] { user, light });

        Assert.Equal(await ColumnAsync<Guid>(conn, expected, user), before);
        Assert.Equal(plan.Count(s => s.Contains("todoscale_archive_recent_backfill", StringComparison.Ordinal)),
            (int)await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass"));
        Assert.EndsWith("todoscale_archive_recent_mark_ready()", plan[^1]);
        Assert.Equal(await ColumnAsync<Guid>(conn, expected, user), after);
        Assert.Equal(0, locks);
        Assert.Equal(await ScalarAsync<int>(conn, "SELECT todoscale_archived_recent_rows()"), kept);
        Assert.Equal(20L, keptLight);
        Assert.Equal(1L, floors);
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_archive_index_plan()"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task psql_rebuilds_the_unpartitioned_recent_table_of_an_earlier_009_in_16_partitions_and_the_pages_answer_as_before()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_recent_repartition");
        await using var conn = await server.OpenAsync(cs);
        var users = new[] { await SeedHistoryAsync(conn, rowsPerMonth: 4), await SeedHistoryAsync(conn, rowsPerMonth: 1, months: 20) };
        var kept = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent WHERE user_id = $1", users[0]);
        await UnpartitionRecentAsync(conn);
        Assert.Equal("r", await ScalarAsync<string>(conn, "SELECT relkind::text FROM pg_class WHERE oid = 'todos_archived_recent'::regclass"));

        for (var round = 1; round <= 2; round++)
        {
            var (code, output) = await Psql.RunFileAsync(server.Binaries, cs, Psql.ScriptPath("009_archive_constant_cost.sql"));
            Assert.True(code == 0, $"psql -f 009 (round {round}) exited {code}: {output}");
            Assert.DoesNotContain("ERROR", output);
        }

        Assert.Equal("p", await ScalarAsync<string>(conn, "SELECT relkind::text FROM pg_class WHERE oid = 'todos_archived_recent'::regclass"));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"todos_archived_recent_part_{i}").Order(StringComparer.Ordinal),
            await ColumnAsync<string>(conn, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'todos_archived_recent'::regclass ORDER BY inhrelid::regclass::text COLLATE \"C\""));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.Equal(kept, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent WHERE user_id = $1", users[0]));
        Assert.Equal(await ScalarAsync<long>(conn, "SELECT count(*) FROM recent_copy"), await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent"));
        foreach (var user in users)
        {
            Assert.Equal(await ColumnAsync<Guid>(conn, NewestSixty, user), await ColumnAsync<Guid>(conn, FirstPageOfSixty, user));
        }

        // The first page is read from the user's one recent partition again: no month is opened.
        var locks = await InTransactionAsync(conn, async () =>
        {
            await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 5)", users[0]);
            return await ArchiveLocksAsync(conn);
        });
        Assert.Equal(0, locks);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task while_the_unpartitioned_recent_table_is_replaced_step_by_step_every_page_answers_as_the_archive_does()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_recent_repartition_steps");
        await using var conn = await server.OpenAsync(cs);
        var users = new[] { await SeedHistoryAsync(conn, rowsPerMonth: 4), await SeedHistoryAsync(conn, rowsPerMonth: 1, months: 20) };
        await UnpartitionRecentAsync(conn);
        // What 009's transaction does to such a table: the page stops reading it; the plan's steps do the rest.
        await ExecAsync(conn, "UPDATE todoscale_archive_recent_state SET ready = false");
        var refused = await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_mark_ready()");

        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step");
        var pagesDiffering = new List<string>();
        foreach (var statement in plan.Prepend("(before)"))
        {
            if (statement != "(before)")
            {
                await ExecAsync(conn, statement);
            }

            foreach (var user in users)
            {
                if (!(await ColumnAsync<Guid>(conn, NewestSixty, user)).SequenceEqual(await ColumnAsync<Guid>(conn, FirstPageOfSixty, user)))
                {
                    pagesDiffering.Add(statement);
                }
            }
        }

        Assert.False(refused);
        Assert.Equal("SELECT todoscale_archive_recent_repartition()", plan[0]);
        // The old table's rows were all recorded: after the repartition every month is added again.
        Assert.Equal((int)await ScalarAsync<long>(conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass"),
            plan.Count(s => s.Contains("todoscale_archive_recent_backfill", StringComparison.Ordinal)));
        Assert.Empty(pagesDiffering);
        Assert.Equal("p", await ScalarAsync<string>(conn, "SELECT relkind::text FROM pg_class WHERE oid = 'todos_archived_recent'::regclass"));
        Assert.True(await ScalarAsync<bool>(conn, "SELECT todoscale_archive_recent_ready()"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_archive_index_plan()"));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_repartition_waits_for_a_transaction_whose_snapshot_still_sees_the_old_table_ready()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_recent_repartition_wait");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 4);
        var expected = await ColumnAsync<Guid>(conn, NewestSixty, user);
        await UnpartitionRecentAsync(conn);
        var ct = TestContext.Current.CancellationToken;

        // A long statement's snapshot, taken while the table was ready, before it has touched the table (no lock on it
        // holds the repartition back): dropped under it, the page would read an empty table and no floor.
        await using var reader = await server.OpenAsync(cs);
        await using var tx = await reader.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var sawReady = await ScalarAsync<bool>(reader, "SELECT todoscale_archive_recent_ready()");
        await ExecAsync(conn, "UPDATE todoscale_archive_recent_state SET ready = false");
        var repartition = Task.Run(async () =>
        {
            await using var c = await server.OpenAsync(cs);
            return await ScalarAsync<string>(c, "SELECT todoscale_archive_recent_repartition()");
        }, ct);
        await Task.Delay(TimeSpan.FromMilliseconds(800), ct);
        var waited = !repartition.IsCompleted;
        var during = await ColumnAsync<Guid>(reader, FirstPageOfSixty, user);
        await tx.CommitAsync(ct);
        var done = await repartition;

        Assert.True(sawReady);
        Assert.True(waited, "the repartition did not wait for the older transaction");
        Assert.Equal(expected, during);
        Assert.StartsWith("todos_archived_recent replaced", done);
        Assert.Equal("p", await ScalarAsync<string>(conn, "SELECT relkind::text FROM pg_class WHERE oid = 'todos_archived_recent'::regclass"));
    }

    // A user's first archive page of 60 through 009's function, and what it must answer (the newest 60 archived).
    private const string FirstPageOfSixty = "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 60)";
    private const string NewestSixty = "SELECT id FROM todos_archived WHERE user_id = $1 ORDER BY completed_at DESC, id DESC LIMIT 60";

    // The table as 009 made it before it was partitioned, with the same rows (kept in recent_copy for the session).
    private static Task UnpartitionRecentAsync(NpgsqlConnection conn) => ExecAsync(conn, """
        CREATE TEMP TABLE recent_copy AS SELECT * FROM todos_archived_recent;
        DROP TABLE todos_archived_recent;
        CREATE TABLE todos_archived_recent (LIKE todos_archived INCLUDING DEFAULTS, CONSTRAINT todos_archived_recent_pkey PRIMARY KEY (user_id, id));
        CREATE INDEX todos_archived_recent_page ON todos_archived_recent (user_id, completed_at DESC, id DESC);
        INSERT INTO todos_archived_recent SELECT * FROM recent_copy;
        """);

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_recent_rows_stay_exactly_each_users_newest_while_archival_reopening_and_the_backfill_run_at_once()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_recent_race");
        await using var conn = await server.OpenAsync(cs);
        var users = new[] { await SeedHistoryAsync(conn, rowsPerMonth: 1), await SeedHistoryAsync(conn, rowsPerMonth: 2) };
        var ct = TestContext.Current.CancellationToken;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(4));

        // Archival: rows of both users in one statement, completed in any month of the history (some above a floor,
        // some below). Reopening: the application's delete of one of the newest archived todos (those the backfill
        // copies). The backfill: every month again, newest first, its copy racing the deletes.
        async Task LoopAsync(Func<NpgsqlConnection, Task> step)
        {
            await using var c = await server.OpenAsync(cs);
            while (!stop.IsCancellationRequested)
            {
                await step(c);
            }
        }

        var archived = 0;
        await Task.WhenAll(
            LoopAsync(async c =>
            {
                await ExecAsync(c, """
                    INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
                    SELECT gen_random_uuid(), u, 'raced', 'done', 0, timestamptz '2021-01-01' + random() * interval '1095 days', now(), now()
                    FROM unnest($1::uuid[]) u, generate_series(1, 2)
                    """, users);
                Interlocked.Increment(ref archived);
            }),
            // The delete stays uncommitted a moment, as a request's transaction does: a backfill that read the row
            // meanwhile must not copy it back after the delete trigger has removed it.
            LoopAsync(async c =>
            {
                await using var tx = await c.BeginTransactionAsync(ct);
                await ExecAsync(c, """
                    DELETE FROM todos_archived WHERE (user_id, id) IN (
                        SELECT user_id, id FROM todos_archived_recent WHERE user_id = ANY ($1) ORDER BY random() LIMIT 1)
                    """, users);
                await ExecAsync(c, "SELECT pg_sleep(0.02)");
                await tx.CommitAsync(ct);
            }),
            LoopAsync(async c =>
            {
                foreach (var month in await ColumnAsync<string>(c, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass ORDER BY 1 DESC"))
                {
                    await ExecAsync(c, "SELECT todoscale_archive_recent_backfill($1::regclass)", month);
                }
            }));

        Assert.True(archived > 10, $"{archived} archiving statements ran: the race proves little");
        foreach (var user in users)
        {
            // Every row at or above the floor is in the recent table, exactly as it is in the archive, and nothing else.
            var missing = await ScalarAsync<long>(conn, """
                SELECT count(*) FROM todos_archived a LEFT JOIN todos_archived_recent_floor f ON f.user_id = a.user_id
                WHERE a.user_id = $1 AND (f.user_id IS NULL OR (a.completed_at, a.id) >= (f.completed_at, f.id))
                  AND NOT EXISTS (SELECT 1 FROM todos_archived_recent r WHERE r.user_id = a.user_id AND r.id = a.id AND r.completed_at = a.completed_at)
                """, user);
            var stale = await ScalarAsync<long>(conn, """
                SELECT count(*) FROM todos_archived_recent r
                WHERE r.user_id = $1 AND NOT EXISTS (SELECT 1 FROM todos_archived a WHERE a.user_id = r.user_id AND a.id = r.id AND a.completed_at = r.completed_at)
                """, user);
            var expected = await ColumnAsync<Guid>(conn, NewestSixty, user);
            var page = await ColumnAsync<Guid>(conn, FirstPageOfSixty, user);

            Assert.Equal(0L, missing);
            Assert.Equal(0L, stale);
            Assert.Equal(expected, page);
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task paging_through_the_archive_returns_exactly_what_the_unbounded_query_returns_with_every_filter()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_page_same");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 4);
        // Beside the months: rows in the DEFAULT partition (2019 has no partition), ties on completed_at, a row exactly
        // at the first instant of a month, and another user's rows that must never show.
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, project_id, title, status, priority, due_date, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), $1, NULL, 'extra ' || g, 'done', g % 5, timestamptz '2022-06-01' + g * interval '1 day',
                   CASE WHEN g <= 3 THEN timestamptz '2019-05-10 00:00+00' + g * interval '1 day'
                        WHEN g <= 6 THEN timestamptz '2022-03-15 12:00+00'
                        ELSE timestamptz '2022-04-01 00:00+00' END,
                   timestamptz '2019-01-01', timestamptz '2019-01-01'
            FROM generate_series(1, 8) g;
            """, user);
        // Reopened todos leave their months' counts too high (counts are never decremented): the page must read on.
        await ExecAsync(conn, """
            DELETE FROM todos_archived WHERE user_id = $1 AND completed_at >= timestamptz '2023-06-01 00:00+00'
              AND id IN (SELECT id FROM todos_archived WHERE user_id = $1 ORDER BY id LIMIT 40)
            """, user);
        var other = await SeedHistoryAsync(conn, rowsPerMonth: 2);
        var project = await ScalarAsync<Guid>(conn, "SELECT project_id FROM todos_archived WHERE user_id = $1 AND project_id IS NOT NULL LIMIT 1", user);

        var filters = new (string Name, object? Status, object? Project, object? DueBefore, object? DueAfter)[]
        {
            ("none", null, null, null, null),
            ("status", "cancelled", null, null, null),
            ("project", null, project, null, null),
            ("due window", null, null, new DateTime(2022, 9, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(2022, 2, 1, 0, 0, 0, DateTimeKind.Utc)),
        };
        // Pages of 7 read a few months with a plan made for them; pages of 200 span most months, which the function
        // reads with the generic plan over every month instead (cheaper then): both must answer alike.
        foreach (var pageSize in new[] { 7, 200 })
        foreach (var (name, status, proj, dueBefore, dueAfter) in filters)
        {
            var expected = await ColumnAsync<Guid>(conn, """
                SELECT id FROM todos_archived
                WHERE user_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR project_id = $3)
                  AND ($4::timestamptz IS NULL OR due_date < $4) AND ($5::timestamptz IS NULL OR due_date >= $5)
                ORDER BY completed_at DESC, id DESC
                """, user, Typed(status, NpgsqlTypes.NpgsqlDbType.Text), Typed(proj, NpgsqlTypes.NpgsqlDbType.Uuid),
                Typed(dueBefore, NpgsqlTypes.NpgsqlDbType.TimestampTz), Typed(dueAfter, NpgsqlTypes.NpgsqlDbType.TimestampTz));
            var paged = new List<Guid>();
            (DateTime At, Guid Id)? cursor = null;
            while (true)
            {
                var page = await RowsAsync(conn, """
                    SELECT id, completed_at FROM todoscale_archived_page($1, $2, $3, $4, $5, $6, $7, $8)
                    """, r => (Id: r.GetGuid(0), At: r.GetDateTime(1)), user, Typed(status, NpgsqlTypes.NpgsqlDbType.Text),
                    Typed(proj, NpgsqlTypes.NpgsqlDbType.Uuid), Typed(dueBefore, NpgsqlTypes.NpgsqlDbType.TimestampTz),
                    Typed(dueAfter, NpgsqlTypes.NpgsqlDbType.TimestampTz), Typed(cursor?.At, NpgsqlTypes.NpgsqlDbType.TimestampTz),
                    Typed(cursor?.Id, NpgsqlTypes.NpgsqlDbType.Uuid), pageSize);
                paged.AddRange(page.Select(p => p.Id));
                if (page.Count < pageSize)
                {
                    break;
                }

                cursor = (page[^1].At, page[^1].Id);
            }

            Assert.True(expected.Count > 0, $"filter {name} selects nothing: the comparison would prove nothing");
            Assert.True(expected.SequenceEqual(paged), $"pages of {pageSize}, filter {name}: {paged.Count} rows paged, {expected.Count} expected");
        }

        var all = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 1000)", user);
        var others = await ColumnAsync<Guid>(conn, "SELECT id FROM todos_archived WHERE user_id = $1", other);
        Assert.Empty(all.Intersect(others));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_archived_todo_is_found_by_id_among_the_recent_rows_or_in_its_one_month_after_archival_reopening_archiving_anew_and_moving()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_by_id");
        await using var conn = await server.OpenAsync(cs);
        // 144 rows: the oldest lie below the user's floor, in their months only.
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 4);
        var other = await SeedHistoryAsync(conn, rowsPerMonth: 1);
        var oldest = await RowsAsync(conn, """
            SELECT a.id, a.title, EXISTS (SELECT 1 FROM todos_archived_recent r WHERE r.user_id = a.user_id AND r.id = a.id)
            FROM todos_archived a WHERE a.user_id = $1 ORDER BY a.completed_at, a.id LIMIT 1
            """, r => (Id: r.GetGuid(0), Title: r.GetString(1), InRecent: r.GetBoolean(2)), user);
        // Archived by the daily job, as in production: completed 40 days ago, moved by archive_completed_todos.
        var todo = await ScalarAsync<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status, completed_at) VALUES ($1, 'old', 'done', now() - interval '40 days') RETURNING id", user);
        await ExecAsync(conn, "SELECT archive_completed_todos()");

        var (found, locks) = await InTransactionAsync(conn, async () =>
            (await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", user, todo), await ArchiveLocksAsync(conn)));
        var (foundOld, oldLocks) = await InTransactionAsync(conn, async () =>
            (await ColumnAsync<string>(conn, "SELECT title FROM todoscale_archived_todo($1, $2)", user, oldest[0].Id), await ArchiveLocksAsync(conn)));
        var oldNotOthers = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", other, oldest[0].Id);
        var notOthers = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", other, todo);
        // Reopened (the application's ReopenArchived deletes it from the archive), then done and archived in another month.
        await ExecAsync(conn, "DELETE FROM todos_archived WHERE user_id = $1 AND id = $2", user, todo);
        var afterReopen = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", user, todo);
        var locatorAfterReopen = await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_locator WHERE id = $1", todo);
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES ($2, $1, 'old', 'done', 0, timestamptz '2022-07-04 10:00+00', now(), now())
            """, user, todo);
        var again = await ScalarAsync<DateTime>(conn, "SELECT completed_at FROM todoscale_archived_todo($1, $2)", user, todo);
        // An operator's UPDATE of completed_at moves the row to another month: the locator follows it.
        await ExecAsync(conn, "UPDATE todos_archived SET completed_at = timestamptz '2023-02-02 09:00+00' WHERE user_id = $1 AND id = $2", user, todo);
        var moved = await ScalarAsync<DateTime>(conn, "SELECT completed_at FROM todoscale_archived_todo($1, $2)", user, todo);

        // The newest archived todo is a recent row: no month is opened. The oldest is read from its one month.
        Assert.Equal([todo], found);
        Assert.Equal(0, locks);
        Assert.False(oldest[0].InRecent, "the oldest row is a recent row: the months path is not exercised");
        Assert.Equal([oldest[0].Title], foundOld);
        Assert.Equal(1, oldLocks);
        Assert.Empty(oldNotOthers);
        Assert.Empty(notOthers);
        Assert.Empty(afterReopen);
        Assert.Equal(0L, locatorAfterReopen);
        Assert.Equal(new DateTime(2022, 7, 4, 10, 0, 0, DateTimeKind.Utc), again);
        Assert.Equal(new DateTime(2023, 2, 2, 9, 0, 0, DateTimeKind.Utc), moved);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_archived_count_of_a_week_opens_only_the_months_of_that_week_and_none_when_the_user_archived_nothing_then()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_week");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 30);
        // Another user's rows in the empty week: the user's own months decide, not anyone's.
        var other = await SeedHistoryAsync(conn, rowsPerMonth: 1, months: 1);
        await ExecAsync(conn, "SELECT todoscale_create_month_partition('todos_archived'::regclass, date '2024-03-01')");
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'other', 'done', 0, timestamptz '2024-03-04 10:00+00', now(), now())
            """, other);
        // A week across a month boundary: two months.
        var from = new DateTime(2022, 5, 28, 0, 0, 0, DateTimeKind.Utc);
        var to = from.AddDays(7);
        var expected = await ScalarAsync<long>(conn,
            "SELECT count(*) FROM todos_archived WHERE user_id = $1 AND completed_at >= $2 AND completed_at < $3", user, from, to);
        var emptyFrom = new DateTime(2024, 3, 1, 0, 0, 0, DateTimeKind.Utc);

        var (count, locks) = await InTransactionAsync(conn, async () =>
            (await ScalarAsync<long>(conn, "SELECT todoscale_archived_completed_count($1, $2, $3)", user, from, to), await ArchiveLocksAsync(conn)));
        var (emptyCount, emptyLocks) = await InTransactionAsync(conn, async () =>
            (await ScalarAsync<long>(conn, "SELECT todoscale_archived_completed_count($1, $2, $3)", user, emptyFrom, emptyFrom.AddDays(7)),
             await ArchiveLocksAsync(conn)));
        var otherCount = await ScalarAsync<long>(conn, "SELECT todoscale_archived_completed_count($1, $2, $3)", other, emptyFrom, emptyFrom.AddDays(7));

        Assert.True(expected > 0, "the week holds no rows: the comparison would prove nothing");
        Assert.Equal(expected, count);
        Assert.Equal(2, locks);
        Assert.Equal(0L, emptyCount);
        Assert.Equal(0, emptyLocks);
        Assert.Equal(1L, otherCount);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_archived_count_of_a_week_above_the_users_floor_is_read_from_the_recent_rows_without_opening_a_month()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_week_recent");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 30);
        // Another user with rows in the same week: the count is the user's own.
        var other = await SeedHistoryAsync(conn, rowsPerMonth: 30);
        var from = new DateTime(2023, 12, 4, 0, 0, 0, DateTimeKind.Utc);
        var to = from.AddDays(7);
        const string Plain = "SELECT count(*) FROM todos_archived WHERE user_id = $1 AND completed_at >= $2 AND completed_at < $3";
        const string Count = "SELECT todoscale_archived_completed_count($1, $2, $3)";
        var floor = await ScalarAsync<DateTime>(conn, "SELECT completed_at FROM todos_archived_recent_floor WHERE user_id = $1", user);
        Assert.True(floor < from, $"the user's floor {floor:O} is not below the week: the test would not reach the recent rows");

        var expected = await ScalarAsync<long>(conn, Plain, user, from, to);
        var (count, locks) = await InTransactionAsync(conn, async () => (await ScalarAsync<long>(conn, Count, user, from, to), await ArchiveLocksAsync(conn)));
        // A todo archived into that week is counted at once (the triggers write its recent row in the same transaction).
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'archived now', 'done', 0, timestamptz '2023-12-05 12:00+00', now(), now())
            """, user);
        var afterArchiving = await ScalarAsync<long>(conn, Count, user, from, to);
        // A week across the floor still counts every row (from the months).
        var acrossFloor = floor.AddDays(-3);
        var expectedAcross = await ScalarAsync<long>(conn, Plain, user, acrossFloor, acrossFloor.AddDays(7));
        var countAcross = await ScalarAsync<long>(conn, Count, user, acrossFloor, acrossFloor.AddDays(7));

        Assert.True(expected > 0, "the week holds no rows: the comparison would prove nothing");
        Assert.Equal((expected, 0L), (count, locks));
        Assert.Equal(expected + 1, afterArchiving);
        Assert.True(expectedAcross > 0, "the week across the floor holds no rows");
        Assert.Equal(expectedAcross, countAcross);
        Assert.Equal(await ScalarAsync<long>(conn, Plain, other, from, to), await ScalarAsync<long>(conn, Count, other, from, to));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task rows_written_into_a_month_directly_are_recorded_by_the_backfill_plan_which_then_ends_empty()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_backfill");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 1);
        // Straight into the partition: the parent's statement trigger does not fire (what an operator's manual load does).
        var direct = await ScalarAsync<Guid>(conn, """
            INSERT INTO todos_archived_2021_05 (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, 'loaded by hand', 'done', 0, timestamptz '2021-05-20 08:00+00', now(), now())
            RETURNING id
            """, user);
        var before = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", user, direct);

        var plan = await ColumnAsync<string>(conn, "SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step");
        foreach (var statement in plan)
        {
            await ExecAsync(conn, statement);
        }

        var after = await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_todo($1, $2)", user, direct);
        var planAfter = await ScalarAsync<long>(conn, "SELECT count(*) FROM todoscale_archive_index_plan()");

        Assert.Empty(before);
        Assert.Contains(plan, s => s.Contains("todos_archived_2021_05", StringComparison.Ordinal));
        Assert.Equal([direct], after);
        Assert.Equal(0L, planAfter);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task truncating_the_archive_as_the_migrations_rollback_does_empties_what_was_recorded_of_its_rows()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_truncate");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 4);
        const string recorded = """
            SELECT (SELECT count(*) FROM todos_archived_months) + (SELECT count(*) FROM todos_archived_locator)
                 + (SELECT count(*) FROM todos_archived_recent) + (SELECT count(*) FROM todos_archived_recent_floor)
            """;
        var before = await ScalarAsync<long>(conn, recorded);

        await ExecAsync(conn, "TRUNCATE todos_archived");

        Assert.True(before > 0, "nothing was recorded: the test proves nothing");
        Assert.Equal(0L, await ScalarAsync<long>(conn, recorded));
        Assert.Empty(await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 10)", user));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task trimming_the_recent_rows_reads_each_users_own_rows_by_index_even_on_a_connection_that_first_trimmed_them_empty()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_trim_plan");
        await using var conn = await server.OpenAsync(cs);
        // As a rollback leaves them (TRUNCATE, then ANALYZE): statistics that say empty. The connection runs as the
        // API's (force_generic_plan), so a cached plan of the trim is made now, for empty tables.
        await ExecAsync(conn, """
            TRUNCATE todos_archived_recent, todos_archived_recent_floor;
            ANALYZE todos_archived_recent, todos_archived_recent_floor;
            SET plan_cache_mode = force_generic_plan;
            """);
        await ExecAsync(conn, "SELECT todoscale_archived_recent_trim(ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 2000)))");
        var users = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToArray();
        await ExecAsync(conn, """
            INSERT INTO todos_archived_recent (id, user_id, title, status, priority, completed_at, created_at, updated_at, archived_at)
            SELECT gen_random_uuid(), u, 'recent', 'done', 1, now() - make_interval(hours => g), now() - interval '1 year', now(), now()
            FROM unnest($1::uuid[]) u, generate_series(1, 150) g
            """, users);

        var plans = new List<string>();
        conn.Notice += (_, e) => plans.Add(e.Notice.MessageText);
        await ExecAsync(conn, """
            LOAD 'auto_explain';
            SET auto_explain.log_min_duration = 0;
            SET auto_explain.log_nested_statements = on;
            SET auto_explain.log_analyze = on;
            SET auto_explain.log_timing = off;
            SET auto_explain.log_level = notice;
            SET client_min_messages = notice;
            """);
        await ExecAsync(conn, "SELECT todoscale_archived_recent_trim($1)", users);
        await ExecAsync(conn, "RESET auto_explain.log_min_duration");

        var kept = await ColumnAsync<long>(conn, "SELECT count(*) FROM todos_archived_recent GROUP BY user_id");
        var floor = plans.Single(p => p.Contains("INSERT INTO todos_archived_recent_floor", StringComparison.Ordinal));
        // The failure this prevents: a plan made for the empty tables scans a whole partition once for every user.
        var scansPerUser = SeqScanLoops().Matches(floor).Select(m => int.Parse(m.Groups[1].Value)).Where(loops => loops > 1).ToList();
        Assert.Equal(200, kept.Count);
        Assert.All(kept, n => Assert.Equal(100L, n));
        Assert.True(scansPerUser.Count == 0, $"a recent partition was scanned whole for each user ({string.Join(", ", scansPerUser)} loops):\n{floor}");
        Assert.True(floor.Contains("Index Cond: (user_id = ", StringComparison.Ordinal), $"no user's rows read by index:\n{floor}");
    }

    [GeneratedRegex(@"Seq Scan on todos_archived_recent_part_\d+ .*\(actual rows=\d+ loops=(\d+)\)")]
    private static partial Regex SeqScanLoops();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task retention_forgets_the_months_and_locations_of_the_partitions_it_drops()
    {
        var cs = await server.CreateMigratedDatabaseAsync("archive_retention");
        await using var conn = await server.OpenAsync(cs);
        var user = await SeedHistoryAsync(conn, rowsPerMonth: 1);
        var recent = await ScalarAsync<Guid>(conn,
            "INSERT INTO todos_active (user_id, title, status, completed_at) VALUES ($1, 'recent', 'done', now() - interval '40 days') RETURNING id", user);
        await ExecAsync(conn, "SELECT archive_completed_todos()");

        await ExecAsync(conn, "SELECT * FROM todoscale_drop_old_partitions('todos_archived'::regclass, 12)");

        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_months WHERE month < date '2024-01-01'"));
        Assert.Equal(0L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived_locator WHERE completed_at < timestamptz '2024-01-01'"));
        Assert.Equal([recent], await ColumnAsync<Guid>(conn, "SELECT id FROM todoscale_archived_page($1, NULL, NULL, NULL, NULL, NULL, NULL, 10)", user));
    }

    // A user with rowsPerMonth archived todos in each of 36 months (or of the first `months`) (2021-01 .. 2023-12, partitions created for them),
    // inserted through todos_archived as every TodoScale path does. Priorities, projects, due dates and statuses vary.
    private static async Task<Guid> SeedHistoryAsync(NpgsqlConnection conn, int rowsPerMonth, int months = Months)
    {
        await ExecAsync(conn, "SELECT todoscale_create_month_partition('todos_archived'::regclass, m::date) FROM generate_series($1::date, $1::date + interval '35 months', interval '1 month') m",
            DateOnly.FromDateTime(FirstMonth));
        var user = await ScalarAsync<Guid>(conn, "INSERT INTO users (email) VALUES ('hist-' || gen_random_uuid() || '@example.com') RETURNING id");
        var project = await ScalarAsync<Guid>(conn, "INSERT INTO projects (user_id, name) VALUES ($1, 'p') RETURNING id", user);
        await ExecAsync(conn, """
            INSERT INTO todos_archived (id, user_id, project_id, title, status, priority, due_date, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), $1, CASE WHEN g % 2 = 0 THEN $2 END, 'm' || m || ' #' || g,
                   CASE WHEN g % 3 = 0 THEN 'cancelled' ELSE 'done' END, g % 5,
                   $3::timestamptz + make_interval(months => m) + interval '5 days',
                   $3::timestamptz + make_interval(months => m) + make_interval(hours => 1 + (g * 613) % 600),
                   $3::timestamptz, $3::timestamptz
            FROM generate_series(0, $4 - 1) m, generate_series(1, $5) g
            """, user, project, FirstMonth, months, rowsPerMonth);
        return user;
    }

    private static object Typed(object? value, NpgsqlTypes.NpgsqlDbType type) =>
        new NpgsqlParameter { NpgsqlDbType = type, Value = value ?? DBNull.Value };

    // The session runs as the API's connections do (force_generic_plan); the functions must not depend on it.
    private static async Task<T> InTransactionAsync<T>(NpgsqlConnection conn, Func<Task<T>> body)
    {
        await ExecAsync(conn, "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan");
        try
        {
            return await body();
        }
        finally
        {
            await ExecAsync(conn, "ROLLBACK; DEALLOCATE ALL");
        }
    }

    private static Task<long> ArchiveLocksAsync(NpgsqlConnection conn) => ScalarAsync<long>(conn, """
        SELECT count(DISTINCT l.relation) FROM pg_locks l JOIN pg_inherits i ON i.inhrelid = l.relation
        WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND i.inhparent = 'todos_archived'::regclass
        """);
}
