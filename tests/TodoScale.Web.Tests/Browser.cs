namespace TodoScale.Web.Tests;

/// <summary>
/// One headless Debian chromium for the whole test run (an assembly fixture), driven by Playwright's driver from the
/// NuGet package. Nothing is downloaded: the browser is /usr/bin/chromium (CHROMIUM_PATH overrides it), and the
/// background-networking flags stop Chromium from calling Google services, whose refused connections this machine's
/// closed network would otherwise turn into errors and delays. Each test gets its own context (cookies, storage).
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string PathVariable = "CHROMIUM_PATH";
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async ValueTask InitializeAsync()
    {
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var executable = Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } p ? p : "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"No chromium at {executable}: install Debian's chromium package (apt-get install chromium) or set {PathVariable}.");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        // Playwright's assertions wait 5 s by default: too short for a page that polls while the 2 cores also build.
        SetDefaultExpectTimeout(30_000);
        Directory.CreateDirectory(ScreenshotFolder);
    }

    /// <summary>A fresh context (no cookies) and a page in it, 1280 px wide, failing fast rather than at the test timeout.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>A full-page screenshot kept as a test artefact (bin/.../screenshots/NAME.png).</summary>
    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, $"pages-{name}.png"), FullPage = true });

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
