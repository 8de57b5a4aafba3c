using System.Text.Json;

namespace TodoScale.Web.Tests;

/// <summary>The todo application (/) in a real browser: sign in, dashboard, list pages, edit dialog, sign out.</summary>
public sealed class TodoAppPageTests(PostgresServer server, Browser browser) : IAsyncLifetime
{
    private WebHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await WebHost.StartAsync(await server.CreateMigratedDatabaseAsync("webapp"));

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private static ILocator Card(IPage page, string name) => page.Locator($"[data-card=\"{name}\"] dd");

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_sign_in_link_signs_in_once_and_leaves_no_code_in_the_address_bar()
    {
        var page = await browser.NewPageAsync();
        var (id, email) = await _host.NewUserAsync();
        var link = _host.SignInLink(id, email);

        await page.GotoAsync(link);

        await Expect(page.Locator("#who")).ToHaveTextAsync(email);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        Assert.Equal(_host.BaseUrl + "/", page.Url);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "todoscale_session");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        // The same link in another browser: redeemed already, so it signs nobody in and says why.
        var other = await browser.NewPageAsync();
        await other.GotoAsync(link);
        await Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await Expect(other.Locator("#status")).ToContainTextAsync("expired, was used already");
        await Browser.ScreenshotAsync(other, "sign-in");

        // Signing out ends the session: a reload shows the sign-in form again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "todoscale_session");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task pasting_an_api_token_once_signs_in_too()
    {
        var page = await browser.NewPageAsync();
        var (id, email) = await _host.NewUserAsync();
        await page.GotoAsync(_host.BaseUrl + "/");

        await page.GetByLabel("Or paste an API token").FillAsync(_host.BearerToken(id, email));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.Locator("#who")).ToHaveTextAsync(email);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task creating_and_completing_a_todo_changes_the_dashboard()
    {
        var page = await browser.NewPageAsync();
        await _host.SignInAsync(page);
        await Expect(Card(page, "Open")).ToHaveTextAsync("0");

        await page.Locator("#new-title").FillAsync("Write the quarterly report");
        await page.Locator("#new-priority").SelectOptionAsync("3");
        await page.Locator("#new-due").FillAsync(DateTime.UtcNow.ToString("yyyy-MM-dd"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Add todo" }).ClickAsync();

        await Expect(page.Locator("#status")).ToHaveTextAsync("Added “Write the quarterly report”.");
        await Expect(Card(page, "Open")).ToHaveTextAsync("1");
        await Expect(Card(page, "Due today")).ToHaveTextAsync("1");
        await Expect(page.Locator("#top-open")).ToContainTextAsync("Write the quarterly report");

        // The edit dialog: a subtask, and a clear message where no AI model is configured.
        await page.GetByRole(AriaRole.Button, new() { Name = "Open Write the quarterly report" }).ClickAsync();
        await page.GetByLabel("Subtask", new() { Exact = true }).FillAsync("Collect the figures");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add subtask" }).ClickAsync();
        await Expect(page.Locator("#subtasks")).ToContainTextAsync("Collect the figures");
        await page.GetByRole(AriaRole.Button, new() { Name = "Suggest subtasks" }).ClickAsync();
        await Expect(page.Locator("#dialog-status")).ToContainTextAsync("No AI model is configured on this server");
        await Browser.ScreenshotAsync(page, "app-edit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await Expect(Card(page, "Open")).ToHaveTextAsync("2");

        await page.GetByRole(AriaRole.Button, new() { Name = "Complete Write the quarterly report" }).ClickAsync();

        await Expect(Card(page, "Open")).ToHaveTextAsync("1");
        await Expect(Card(page, "Done")).ToHaveTextAsync("1");
        await Expect(Card(page, "Completed this week")).ToHaveTextAsync("1");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Reopen Write the quarterly report" })).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "app");
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task paging_through_the_list_shows_every_todo_once_and_archived_ones_on_request()
    {
        var page = await browser.NewPageAsync();
        var (id, email) = await _host.SignInAsync(page);
        var api = _host.Client(_host.BearerToken(id, email));
        for (var i = 1; i <= 23; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await api.PostAsJsonAsync("/api/todos", new { title = $"Todo {i:00}", priority = i % 5 })).StatusCode);
        }

        var done = await (await api.PostAsJsonAsync("/api/todos", new { title = "Finished long ago" })).Content.ReadFromJsonAsync<JsonElement>();
        var doneId = done.GetProperty("id").GetGuid();
        await api.PostAsync($"/api/todos/{doneId}/complete", null);
        await TestArchive.ArchiveTodoAsync(_host.ConnectionString, id, doneId);
        await page.ReloadAsync();

        await page.Locator("#filter-limit").SelectOptionAsync("10");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        var seen = new List<string>();
        for (var n = 1; n <= 3; n++)
        {
            await Expect(page.Locator("#page-info")).ToHaveTextAsync($"Page {n}");
            var titles = await page.Locator("#todo-table tbody tr td:first-child button").AllTextContentsAsync();
            Assert.Equal(n < 3 ? 10 : 3, titles.Count);
            seen.AddRange(titles);
            if (n < 3)
            {
                await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
            }
        }

        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Next page" })).ToBeDisabledAsync();
        Assert.Equal(Enumerable.Range(1, 23).Select(i => $"Todo {i:00}").Order(), seen.Order());
        await page.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 2");
        Assert.Equal(seen.Skip(10).Take(10), await page.Locator("#todo-table tbody tr td:first-child button").AllTextContentsAsync());

        await page.GetByLabel("Include archived").CheckAsync();
        await page.Locator("#filter-limit").SelectOptionAsync("50");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        var archivedRow = page.Locator("#todo-table tbody tr", new() { HasText = "Finished long ago" });
        await Expect(archivedRow).ToContainTextAsync("archived");
        await Expect(page.Locator("#todo-table tbody tr")).ToHaveCountAsync(24);
        await Browser.ScreenshotAsync(page, "app-list");
    }
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_todo_added_from_the_keyboard_can_be_edited_moved_to_a_project_and_deleted()
    {
        var page = await browser.NewPageAsync();
        await _host.SignInAsync(page);
        await page.GetByLabel("Name").FillAsync("Household");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add project" }).ClickAsync();
        await Expect(page.Locator("#project-table tbody tr", new() { HasText = "Household" })).ToHaveCountAsync(1);

        // Keyboard only: focus the title, type, Enter submits the form.
        await page.Locator("#new-title").FocusAsync();
        await page.Keyboard.TypeAsync("Fix the tap");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#status")).ToHaveTextAsync("Added “Fix the tap”.");

        await page.GetByRole(AriaRole.Button, new() { Name = "Open Fix the tap" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("Title").FillAsync("Fix the kitchen tap");
        await dialog.GetByLabel("Status").SelectOptionAsync("in_progress");
        await dialog.GetByLabel("Project").SelectOptionAsync(new SelectOptionValue { Label = "Household" });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(page.Locator("#dialog-status")).ToHaveTextAsync("Saved.");
        await page.Keyboard.PressAsync("Escape");
        await Expect(dialog).ToBeHiddenAsync();

        var row = page.Locator("#todo-table tbody tr", new() { HasText = "Fix the kitchen tap" });
        await Expect(row).ToContainTextAsync("in_progress");
        await Expect(row).ToContainTextAsync("Household");
        await Expect(page.Locator("[data-card=\"In progress\"] dd")).ToHaveTextAsync("1");
        await Expect(page.Locator("#project-table tbody tr", new() { HasText = "Household" }).Locator("td").Nth(1)).ToHaveTextAsync("1");

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete Fix the kitchen tap" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();

        await Expect(page.Locator("#status")).ToHaveTextAsync("Deleted “Fix the kitchen tap”.");
        await Expect(page.Locator("#todo-table tbody")).ToHaveTextAsync("No todos match.");
        await Expect(page.Locator("[data-card=\"In progress\"] dd")).ToHaveTextAsync("0");
    }
}
