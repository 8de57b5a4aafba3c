using System.Globalization;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;
using TodoScale.Simulation.LegacyData;

namespace TodoScale.Web.Tests;

/// <summary>The console follows a live migration of a legacy todos table, then validates it.</summary>
public sealed class MigrationConsolePageTests(PostgresServer server, Browser browser)
{
    private static async Task<long> FigureAsync(IPage page, string name)
    {
        var text = await page.Locator($"[data-figure=\"{name}\"] dd").TextContentAsync() ?? "";
        return long.TryParse(text.Replace(",", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_console_shows_a_running_migrations_progress_and_then_its_validation()
    {
        const int rows = 20_000;
        var cs = await server.CreateEmptyDatabaseAsync("webmigration");
        await using (var conn = await server.OpenAsync(cs))
        {
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rows });
        }

        await new SchemaMigrator(cs).MigrateAsync();
        await using var host = await WebHost.StartAsync(cs);
        var page = await browser.NewPageAsync();
        await host.SignInAsync(page, isOperator: true);
        await page.GotoAsync(host.BaseUrl + "/ops");
        await Expect(page.Locator("#migration-state")).ToHaveTextAsync("not_started");

        // Small throttled batches: the copy takes several of the page's 2-second polls.
        var migrating = Task.Run(() => new MigrationRunner(cs).RunAsync(new MigrationRunOptions { BatchSize = 250, Throttle = TimeSpan.FromMilliseconds(100) }));

        await Expect(page.Locator("#migration-state")).ToHaveTextAsync("migrating", new() { Timeout = 60_000 });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long copied;
        while ((copied = await FigureAsync(page, "Rows copied")) <= 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.False(migrating.IsCompleted, "the migration finished before the console showed it running");
        Assert.InRange(copied, 1, rows - 1);
        await Expect(page.Locator("#batches tbody tr").First).ToContainTextAsync("batch");
        var progress = double.Parse(await page.Locator("#migration-progress").GetAttributeAsync("value") ?? "0", CultureInfo.InvariantCulture);
        Assert.InRange(progress, 0.001, 99.999);
        await Expect(page.Locator("[data-figure=\"Rows/s\"] dd")).Not.ToHaveTextAsync("–");
        await Browser.ScreenshotAsync(page, "ops");

        var result = await migrating;
        Assert.True(result.Completed);
        await Expect(page.Locator("#migration-state")).ToHaveTextAsync("migrated");
        await Expect(page.Locator("[data-figure=\"Rows copied\"] dd")).ToHaveTextAsync(rows.ToString("N0", CultureInfo.InvariantCulture));
        await Expect(page.Locator("[data-figure=\"Rows remaining\"] dd")).ToHaveTextAsync("0");

        await page.GetByRole(AriaRole.Button, new() { Name = "Validate migration" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Validate", Exact = true }).ClickAsync();

        await Expect(page.Locator("#validate-progress")).ToContainTextAsync("Validation finished: PASS", new() { Timeout = 60_000 });
        var checks = await new LegacyMigration(cs).ValidateAsync();
        await Expect(page.Locator("#validation tbody tr")).ToHaveCountAsync(checks.Count);
        await Expect(page.Locator("#validation tbody tr", new() { HasText = "FAIL" })).ToHaveCountAsync(0);
        await Browser.ScreenshotAsync(page, "ops-validated");
    }
}
