using Microsoft.Playwright;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// One headless Chromium for the browser tests: the Debian package at /usr/bin/chromium (nothing is downloaded; .ci/run
/// installs it). Each test opens its own browser context, so cookies never leak between tests.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    /// <summary>
    /// How long a browser action, a navigation or a web-first assertion (<c>Expect(...)</c>) waits before it fails. No
    /// browser test measures time: each wait ends as soon as the page is in the state awaited, so only a failing test
    /// reaches the bound. Playwright's defaults (30 s for actions, 5 s for assertions) and the 15 s the tests set for
    /// actions were bounds on how fast a shared machine serves a page: a run beside two busy loops and other test runs
    /// (load 52 on 2 cores) saw a navigation to /signup pass 15 s.
    /// </summary>
    public const float TimeoutMilliseconds = 60_000;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>A browser context of its own for one test, on <paramref name="baseAddress"/>, with <see cref="TimeoutMilliseconds"/>.</summary>
    public async Task<IBrowserContext> NewContextAsync(Uri baseAddress)
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseAddress.ToString() });
        context.SetDefaultTimeout(TimeoutMilliseconds);
        return context;
    }

    /// <summary>Where screenshots go: the test output folder, or EMAILGUARD_SCREENSHOTS when set.</summary>
    public static string ScreenshotDirectory { get; } =
        Environment.GetEnvironmentVariable("EMAILGUARD_SCREENSHOTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"Chromium is not installed at {ChromiumPath}: run `apt-get install -y chromium` (bash .ci/run does).");
        }

        System.IO.Directory.CreateDirectory(ScreenshotDirectory);
        Assertions.SetDefaultExpectTimeout(TimeoutMilliseconds);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
