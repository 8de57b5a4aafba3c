namespace TodoScale.Application.Tests;

public sealed class TodoServiceTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_is_created_in_its_users_partition_and_read_back()
    {
        await using var app = await AppDatabase.CreateAsync(server, "create");
        var user = await app.NewUserAsync();

        var todo = await app.Service.CreateTodoAsync(user, new NewTodo("Write the report", "by Friday", 3, new DateTime(2030, 1, 2, 0, 0, 0, DateTimeKind.Utc)));

        var read = await app.Service.GetTodoAsync(user, todo.Id);
        Assert.NotNull(read);
        Assert.Equal("Write the report", read.Title);
        Assert.Equal(3, read.Priority);
        Assert.Equal("todo", read.Status);
        Assert.False(read.Archived);
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT count(*) FROM todos_active WHERE user_id = $1 AND id = $2", user, todo.Id));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_subtask_needs_a_parent_of_the_same_user_active_or_archived()
    {
        await using var app = await AppDatabase.CreateAsync(server, "parent");
        var alice = await app.NewUserAsync();
        var bob = await app.NewUserAsync();
        var aliceParent = await app.Service.CreateTodoAsync(alice, new NewTodo("Alice's parent"));
        var archivedParent = await app.Service.CreateTodoAsync(alice, new NewTodo("Done long ago"));
        await app.Service.CompleteTodoAsync(alice, archivedParent.Id);
        await app.ArchiveAsync(alice, archivedParent.Id);

        var child = await app.Service.CreateTodoAsync(alice, new NewTodo("child", ParentTodoId: aliceParent.Id));
        var childOfArchived = await app.Service.CreateTodoAsync(alice, new NewTodo("child of archived", ParentTodoId: archivedParent.Id));

        Assert.Equal(aliceParent.Id, child.ParentTodoId);
        Assert.Equal(archivedParent.Id, childOfArchived.ParentTodoId);
        var e1 = await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Service.CreateTodoAsync(bob, new NewTodo("sneaky", ParentTodoId: aliceParent.Id)));
        Assert.Equal("parent todo", e1.What);
        await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Service.CreateTodoAsync(alice, new NewTodo("orphan", ParentTodoId: Guid.NewGuid())));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT count(*) FROM todos_active WHERE user_id = $1", bob));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task reopening_an_archived_todo_moves_it_back_to_todos_active_with_its_fields()
    {
        await using var app = await AppDatabase.CreateAsync(server, "reopen");
        var user = await app.NewUserAsync();
        var todo = await app.Service.CreateTodoAsync(user, new NewTodo("Pay rent", "monthly", 4));
        await app.Service.CompleteTodoAsync(user, todo.Id);
        await app.ArchiveAsync(user, todo.Id);
        Assert.True((await app.Service.GetTodoAsync(user, todo.Id))!.Archived);

        var reopened = await app.Service.ReopenTodoAsync(user, todo.Id);

        Assert.False(reopened.Archived);
        Assert.Equal("todo", reopened.Status);
        Assert.Null(reopened.CompletedAt);
        Assert.Equal(("Pay rent", "monthly", 4, todo.CreatedAt), (reopened.Title, reopened.Description, reopened.Priority, reopened.CreatedAt));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT count(*) FROM todos_active WHERE id = $1", todo.Id));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT count(*) FROM todos_archived WHERE id = $1", todo.Id));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task deleting_a_todo_deletes_its_subtasks_recursively_active_and_archived_and_nothing_else()
    {
        await using var app = await AppDatabase.CreateAsync(server, "delete");
        var user = await app.NewUserAsync();
        var root = await app.Service.CreateTodoAsync(user, new NewTodo("root"));
        var child = await app.Service.CreateTodoAsync(user, new NewTodo("child", ParentTodoId: root.Id));
        var grandchild = await app.Service.CreateTodoAsync(user, new NewTodo("grandchild", ParentTodoId: child.Id));
        var archivedChild = await app.Service.CreateTodoAsync(user, new NewTodo("archived child", ParentTodoId: root.Id));
        await app.Service.CompleteTodoAsync(user, archivedChild.Id);
        await app.ArchiveAsync(user, archivedChild.Id);
        var unrelated = await app.Service.CreateTodoAsync(user, new NewTodo("unrelated"));

        var deleted = await app.Service.DeleteTodoAsync(user, root.Id);

        Assert.Equal(4L, deleted);
        foreach (var id in new[] { root.Id, child.Id, grandchild.Id, archivedChild.Id })
        {
            Assert.Null(await app.Service.GetTodoAsync(user, id));
        }

        Assert.NotNull(await app.Service.GetTodoAsync(user, unrelated.Id));
        await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Service.DeleteTodoAsync(user, root.Id));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task an_archived_todo_cannot_be_edited_until_it_is_reopened()
    {
        await using var app = await AppDatabase.CreateAsync(server, "archedit");
        var user = await app.NewUserAsync();
        var todo = await app.Service.CreateTodoAsync(user, new NewTodo("old"));
        await app.Service.CompleteTodoAsync(user, todo.Id);
        await app.ArchiveAsync(user, todo.Id);

        await Assert.ThrowsAsync<TodoConflictException>(() =>
            app.Service.UpdateTodoAsync(user, todo.Id, new TodoUpdate("new", null, 0, null, null, null)));
        await app.Service.ReopenTodoAsync(user, todo.Id);
        var updated = await app.Service.UpdateTodoAsync(user, todo.Id, new TodoUpdate("new", null, 2, null, null, "in_progress"));

        Assert.Equal(("new", 2, "in_progress"), (updated.Title, updated.Priority, updated.Status));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task projects_count_open_and_done_todos_and_deleting_one_keeps_its_todos()
    {
        await using var app = await AppDatabase.CreateAsync(server, "projects");
        var user = await app.NewUserAsync();
        var other = await app.NewUserAsync();
        var home = await app.Projects.CreateProjectAsync(user, "Home", null);
        var open = await app.Service.CreateTodoAsync(user, new NewTodo("open", ProjectId: home.Id));
        var done = await app.Service.CreateTodoAsync(user, new NewTodo("done", ProjectId: home.Id));
        await app.Service.CompleteTodoAsync(user, done.Id);
        var archived = await app.Service.CreateTodoAsync(user, new NewTodo("archived", ProjectId: home.Id));
        await app.Service.CompleteTodoAsync(user, archived.Id);
        await app.ArchiveAsync(user, archived.Id);

        var listed = Assert.Single(await app.Projects.ListProjectsAsync(user));
        Assert.Equal((1L, 2L), (listed.OpenCount, listed.DoneCount));
        Assert.Empty(await app.Projects.ListProjectsAsync(other));
        await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Service.CreateTodoAsync(other, new NewTodo("x", ProjectId: home.Id)));
        await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Projects.RenameProjectAsync(other, home.Id, "mine"));
        await Assert.ThrowsAsync<TodoNotFoundException>(() => app.Projects.DeleteProjectAsync(other, home.Id));

        Assert.Equal("House", (await app.Projects.RenameProjectAsync(user, home.Id, "House")).Name);
        await app.Projects.DeleteProjectAsync(user, home.Id);

        Assert.Empty(await app.Projects.ListProjectsAsync(user));
        foreach (var id in new[] { open.Id, done.Id, archived.Id })
        {
            var t = await app.Service.GetTodoAsync(user, id);
            Assert.NotNull(t);
            Assert.Null(t.ProjectId);
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_dashboard_counts_by_status_due_dates_and_completions_of_this_week_in_utc()
    {
        // Wednesday 2026-11-25 12:00 UTC: the week runs from Monday 23rd to Monday 30th.
        var now = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        await using var app = await AppDatabase.CreateAsync(server, "dashboard", new FixedClock(now));
        var user = await app.NewUserAsync();
        var other = await app.NewUserAsync();
        var project = await app.Projects.CreateProjectAsync(user, "Work", null);
        async Task Row(string status, int priority, DateTime? due, DateTime? completed, Guid? owner = null) =>
            await app.ExecuteAsync("""
                INSERT INTO todos_active (user_id, title, status, priority, due_date, completed_at, project_id)
                VALUES ($1, 'x', $2, $3, $4, $5, $6)
                """, owner ?? user, status, priority, (object?)due ?? DBNull.Value, (object?)completed ?? DBNull.Value, project.Id);
        DateTime At(int day, int hour) => new(2026, 11, day, hour, 0, 0, DateTimeKind.Utc);

        await Row("todo", 1, At(24, 10), null);              // overdue, due this week
        await Row("in_progress", 4, At(25, 18), null);       // due today, due this week
        await Row("todo", 2, At(27, 9), null);               // due this week
        await Row("todo", 0, new DateTime(2026, 12, 1, 9, 0, 0, DateTimeKind.Utc), null); // next week
        await Row("done", 3, At(20, 9), At(25, 11));         // done this week; a done todo is never overdue
        await Row("done", 3, null, At(22, 23));              // done last week (Sunday)
        await Row("cancelled", 0, At(1, 9), null);           // cancelled: not overdue
        await Row("todo", 4, At(1, 9), null, other);          // another user's: counted nowhere
        var archivedDone = await app.Service.CreateTodoAsync(user, new NewTodo("archived"));
        await app.ExecuteAsync("UPDATE todos_active SET status = 'done', completed_at = $2 WHERE id = $1", archivedDone.Id, At(23, 8));
        await app.ArchiveAsync(user, archivedDone.Id);         // completed Monday this week, now archived
        var first = await app.Service.CreateTodoAsync(user, new NewTodo("ask the AI"));
        await app.Ai.RecordAiInteractionAsync(user, first.Id, new NewAiInteraction("suggest_subtasks", "p", "r", "m", 1, 2, 3));

        var d = await app.Dashboard.GetDashboardAsync(user);

        Assert.Equal(new StatusCounts(4, 1, 2, 1), d.ByStatus);
        Assert.Equal(1L, d.Overdue);
        Assert.Equal(1L, d.DueToday);
        Assert.Equal(3L, d.DueThisWeek);
        Assert.Equal(2L, d.CompletedThisWeek);
        Assert.Equal([4, 2, 1, 0, 0], d.TopOpen.Select(t => t.Priority));
        Assert.All(d.TopOpen, t => Assert.Contains(t.Status, new[] { "todo", "in_progress" }));
        var p = Assert.Single(d.Projects);
        Assert.Equal((4L, 2L), (p.OpenCount, p.DoneCount));
        Assert.Equal(first.Id, Assert.Single(d.RecentAiInteractions).TodoId);
    }
}

public sealed class TodoListTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_list_filters_by_status_project_and_due_dates_and_only_shows_archived_todos_when_asked()
    {
        await using var app = await AppDatabase.CreateAsync(server, "filters");
        var user = await app.NewUserAsync();
        var other = await app.NewUserAsync();
        var work = await app.Projects.CreateProjectAsync(user, "Work", null);
        DateTime Day(int d) => new(2026, 3, d, 12, 0, 0, DateTimeKind.Utc);
        var early = await app.Service.CreateTodoAsync(user, new NewTodo("early", Priority: 1, DueDate: Day(1), ProjectId: work.Id));
        var late = await app.Service.CreateTodoAsync(user, new NewTodo("late", Priority: 2, DueDate: Day(20)));
        var started = await app.Service.CreateTodoAsync(user, new NewTodo("started", Priority: 3, ProjectId: work.Id));
        await app.Service.UpdateTodoAsync(user, started.Id, new TodoUpdate("started", null, 3, null, work.Id, "in_progress"));
        var old = await app.Service.CreateTodoAsync(user, new NewTodo("old", ProjectId: work.Id, DueDate: Day(2)));
        await app.Service.CompleteTodoAsync(user, old.Id);
        await app.ArchiveAsync(user, old.Id);
        await app.Service.CreateTodoAsync(other, new NewTodo("not mine", DueDate: Day(1)));

        async Task<string[]> Titles(TodoListQuery q) => (await app.Service.ListTodosAsync(user, q)).Items.Select(t => t.Title).ToArray();

        Assert.Equal(["started", "late", "early"], await Titles(new TodoListQuery()));
        Assert.Equal(["started", "late", "early", "old"], await Titles(new TodoListQuery { IncludeArchived = true }));
        Assert.Equal(["started"], await Titles(new TodoListQuery { Status = "in_progress" }));
        Assert.Equal(["started", "early"], await Titles(new TodoListQuery { ProjectId = work.Id }));
        Assert.Equal(["started", "early", "old"], await Titles(new TodoListQuery { ProjectId = work.Id, IncludeArchived = true }));
        Assert.Equal(["early"], await Titles(new TodoListQuery { DueBefore = Day(10) }));
        Assert.Equal(["early", "old"], await Titles(new TodoListQuery { DueBefore = Day(10), IncludeArchived = true }));
        Assert.Equal(["late"], await Titles(new TodoListQuery { DueAfter = Day(10) }));
        Assert.Equal(["early"], await Titles(new TodoListQuery { DueAfter = Day(1), DueBefore = Day(2) }));
        Assert.Equal(["old"], await Titles(new TodoListQuery { Status = "done", IncludeArchived = true }));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_cursor_of_the_archived_part_is_refused_without_include_archived()
    {
        await using var app = await AppDatabase.CreateAsync(server, "cursor");
        var user = await app.NewUserAsync();
        foreach (var i in Enumerable.Range(0, 3))
        {
            var t = await app.Service.CreateTodoAsync(user, new NewTodo($"t{i}"));
            await app.Service.CompleteTodoAsync(user, t.Id);
            await app.ArchiveAsync(user, t.Id);
        }

        var first = await app.Service.ListTodosAsync(user, new TodoListQuery { IncludeArchived = true, Limit = 2 });
        Assert.NotNull(first.NextCursor);

        var e = await Assert.ThrowsAsync<TodoValidationException>(() => app.Service.ListTodosAsync(user, new TodoListQuery { Cursor = first.NextCursor }));
        Assert.Contains("cursor", e.Errors.Keys);
        Assert.Single((await app.Service.ListTodosAsync(user, new TodoListQuery { IncludeArchived = true, Limit = 2, Cursor = first.NextCursor })).Items);
    }
}
