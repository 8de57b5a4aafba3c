namespace TodoScale.Web.Tests;

/// <summary>The operator console (/ops) in a real browser: who may open it, and the daily job started from it.</summary>
public sealed class OpsConsolePageTests(PostgresServer server, Browser browser) : IAsyncLifetime
{
    private WebHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await WebHost.StartAsync(await server.CreateMigratedDatabaseAsync("webops"));

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_user_without_the_operator_role_gets_403_and_a_stranger_is_sent_to_sign_in()
    {
        var page = await browser.NewPageAsync();
        await _host.SignInAsync(page, isOperator: false);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Operator console" })).ToBeHiddenAsync();

        var response = await page.GotoAsync(_host.BaseUrl + "/ops");

        Assert.Equal(403, response!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Operators only" })).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "ops-forbidden");

        var stranger = await browser.NewPageAsync();
        await stranger.GotoAsync(_host.BaseUrl + "/ops");
        Assert.Equal(_host.BaseUrl + "/?next=ops", stranger.Url);
        await Expect(stranger.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task running_the_daily_job_from_the_console_shows_the_new_run_with_its_steps()
    {
        var page = await browser.NewPageAsync();
        await _host.SignInAsync(page, isOperator: true);
        await page.GetByRole(AriaRole.Link, new() { Name = "Operator console" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Operator console" })).ToBeVisibleAsync();
        await Expect(page.Locator("#maintenance-runs")).ToHaveTextAsync("No maintenance run recorded yet.");
        // 16 hash partitions drawn as bars; the panels of features this server lacks say so instead of failing.
        await Expect(page.Locator("#active-chart svg rect.bar")).ToHaveCountAsync(16);
        await Expect(page.Locator("#replication-body")).ToHaveTextAsync("No standbys: the primary streams to none, and this API instance reads from the primary.");
        await Expect(page.Locator("#citus-body")).ToHaveTextAsync("Not configured: this server reports no Citus.");
        await Expect(page.Locator("#health-checks")).ToContainTextAsync("daily_maintenance_recent");

        // Cancel first: nothing runs.
        await page.GetByRole(AriaRole.Button, new() { Name = "Run daily job now" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Run daily job now" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Run daily job" }).ClickAsync();

        await Expect(page.Locator("#daily-progress")).ToContainTextAsync("Daily job finished (done)");
        var runId = await Sql.ScalarAsync<long>(_host.ConnectionString, "SELECT id FROM maintenance_history WHERE job = 'daily'");
        await Expect(page.Locator("#daily-progress")).ToContainTextAsync($"run #{runId}");
        var run = page.Locator("#maintenance-runs details", new() { HasText = $"#{runId} daily" });
        await Expect(run).ToHaveCountAsync(1);
        await run.Locator("summary").ClickAsync();
        await Expect(run.Locator("tbody tr", new() { HasText = "archive" })).ToHaveCountAsync(1);
        await Expect(run.Locator("tbody tr", new() { HasText = "archive" })).ToContainTextAsync("OK");
        Assert.Equal(1L, await Sql.ScalarAsync<long>(_host.ConnectionString, "SELECT count(*) FROM maintenance_history"));
        await Browser.ScreenshotAsync(page, "ops-maintenance");
    }
}
