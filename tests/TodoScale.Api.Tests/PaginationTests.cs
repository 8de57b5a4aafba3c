namespace TodoScale.Api.Tests;

public sealed class PaginationTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "paging");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task pages_return_every_todo_exactly_once_while_todos_are_being_added()
    {
        var (userId, client) = await _host.NewUserAsync();
        // 150 todos in groups of ten sharing priority AND created_at, so the id tie-break decides page edges.
        await _host.ExecuteAsync("""
            INSERT INTO todos_active (user_id, title, priority, created_at)
            SELECT $1, 'seed ' || g, g % 5, timestamptz '2026-01-01 00:00Z' + (g / 10) * interval '1 minute'
            FROM generate_series(1, 150) g
            """, userId);
        var seeded = (await _host.ScalarAsync<Guid[]>("SELECT array_agg(id) FROM todos_active WHERE user_id = $1", userId)).ToHashSet();

        // A second client of the same user keeps adding todos of every priority while the first one pages.
        using var stop = new CancellationTokenSource();
        var added = new List<Guid>();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var t = await client.CreateTodoAsync(new { title = $"added {i}", priority = i % 5 });
                lock (added)
                {
                    added.Add(t.Id);
                }
            }
        });

        // Between pages, deterministically: a top-priority todo (it sorts before the cursor: never shown in
        // this walk) and, while the walk is still above priority 0, a bottom-priority one (after the cursor:
        // shown exactly once).
        var before = new List<Guid>();
        var after = new List<Guid>();
        var seen = new List<TodoView>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.ListAsync("?limit=7" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.InRange(page.Items.Count, 0, 7);
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
            pages++;
            if (cursor is not null && page.Items[^1].Priority >= 1)
            {
                before.Add((await client.CreateTodoAsync(new { title = $"top {pages}", priority = 4 })).Id);
                after.Add((await client.CreateTodoAsync(new { title = $"bottom {pages}", priority = 0 })).Id);
            }
        } while (cursor is not null && pages < 500);

        await stop.CancelAsync();
        await writer;

        var seenIds = seen.Select(t => t.Id).ToList();
        Assert.Equal(seenIds.Count, seenIds.Distinct().Count());
        Assert.Subset(seenIds.ToHashSet(), seeded);
        Assert.NotEmpty(after);
        Assert.Subset(seenIds.ToHashSet(), after.ToHashSet());
        Assert.Empty(before.Intersect(seenIds));
        Assert.Subset(seeded.Concat(added).Concat(before).Concat(after).ToHashSet(), seenIds.ToHashSet());
        // Every page continued the order priority DESC, created_at DESC.
        for (var i = 1; i < seen.Count; i++)
        {
            Assert.True((seen[i - 1].Priority, seen[i - 1].CreatedAt).CompareTo((seen[i].Priority, seen[i].CreatedAt)) >= 0,
                $"row {i} is out of order");
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task with_include_archived_every_active_todo_comes_first_then_every_archived_one_each_exactly_once()
    {
        var (userId, client) = await _host.NewUserAsync();
        await _host.ExecuteAsync("""
            INSERT INTO todos_active (user_id, title, priority) SELECT $1, 'active ' || g, g % 3 FROM generate_series(1, 23) g
            """, userId);
        await _host.ExecuteAsync("""
            INSERT INTO todos_archived (id, user_id, title, status, priority, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), $1, 'archived ' || g, 'done', 0,
                   timestamptz '2026-01-15 00:00Z' + (g / 4) * interval '1 day', now(), now()
            FROM generate_series(1, 17) g
            """, userId);

        foreach (var limit in new[] { 1, 7, 23, 40, 200 })
        {
            var seen = new List<TodoView>();
            string? cursor = null;
            do
            {
                var page = await client.ListAsync($"?include_archived=true&limit={limit}" + (cursor is null ? "" : "&cursor=" + cursor));
                seen.AddRange(page.Items);
                cursor = page.NextCursor;
            } while (cursor is not null);

            Assert.Equal(40, seen.Count);
            Assert.Equal(40, seen.Select(t => t.Id).Distinct().Count());
            Assert.All(seen.Take(23), t => Assert.False(t.Archived));
            Assert.All(seen.Skip(23), t => Assert.True(t.Archived));
            Assert.Equal(seen.Skip(23).OrderByDescending(t => t.CompletedAt).Select(t => t.CompletedAt), seen.Skip(23).Select(t => t.CompletedAt));
        }
    }
}
