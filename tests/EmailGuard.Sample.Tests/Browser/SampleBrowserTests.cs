using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace EmailGuard.Sample.Tests;

/// <summary>The sample in headless Chromium, as a person would use it. Each test gets a fresh app and browser context.</summary>
[Collection(BrowserCollection.Name)]
public sealed partial class SampleBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private SampleApp _app = null!;
    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private ConsoleErrors _errors = null!;

    public async Task InitializeAsync()
    {
        _app = SampleApp.Start();
        _context = await browser.NewContextAsync(_app.BaseAddress);
        _page = await _context.NewPageAsync();
        _errors = ConsoleErrors.Attach(_page);
    }

    public async Task DisposeAsync()
    {
        await _context.CloseAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Signup_FirstSubmission_OneMailInOutbox()
    {
        await SignUpAsync("first@example.com");
        await Expect(_page.Locator("#signup-sent")).ToContainTextAsync("confirmation mail");
        await ScreenshotAsync("signup-sent");
        await _app.MailDrainedAsync();

        await _page.GotoAsync("/outbox");

        await Expect(_page.Locator("tr.mail")).ToHaveCountAsync(1);
        await Expect(_page.Locator("tr.mail").First).ToContainTextAsync("first@example.com");
        await Expect(_page.Locator("tr.mail").First).ToHaveAttributeAsync("data-status", "Sent");
        _app.PickedUpMails().Should().ContainSingle();
        await ScreenshotAsync("outbox-after-signup");
        _errors.Snapshot().Should().BeEmpty();
    }

    [Fact]
    public async Task Signup_SecondSubmissionFromSameClient_FriendlyLimitPageAndStillOneMail()
    {
        await SignUpAsync("first@example.com");
        await Expect(_page.Locator("#signup-sent")).ToBeVisibleAsync();

        IResponse? limited = await SignUpAsync("second@example.com");

        limited!.Status.Should().Be(429);
        string message = await _page.Locator("#limit-message").InnerTextAsync();
        Match match = MinutesPattern().Match(message);
        match.Success.Should().BeTrue($"the page should say when to retry, and says \"{message}\"");
        int minutes = int.Parse(match.Groups["minutes"].Value, System.Globalization.CultureInfo.InvariantCulture);
        minutes.Should().BeInRange(1, 15, "one sign-up per 15 minutes was allowed just now");
        await ScreenshotAsync("signup-limited");
        await _app.MailDrainedAsync();

        await _page.GotoAsync("/outbox");
        await Expect(_page.Locator("tr.mail")).ToHaveCountAsync(1);
        _app.PickedUpMails().Should().ContainSingle();
        // Chromium reports any 4xx document as a failed resource; the 429 is the point of this page, nothing else may fail.
        _errors.Snapshot().Should().OnlyContain(e => e.Contains("status of 429", StringComparison.Ordinal) && e.Contains("/signup", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signup_FormViewedAndReloadedManyTimes_FirstSubmissionStillAllowed()
    {
        for (int i = 0; i < 5; i++)
        {
            IResponse? view = await _page.GotoAsync("/signup");
            view!.Status.Should().Be(200);
            await _page.ReloadAsync();
        }

        IResponse? submitted = await SignUpAsync("first@example.com");

        submitted!.Status.Should().Be(302, "viewing the form is free; only the POST handler spends the quota");
        await Expect(_page.Locator("#signup-sent")).ToBeVisibleAsync();
        _errors.Snapshot().Should().BeEmpty();
    }

    [Fact]
    public async Task Share_TenantSuspendedOnTheDashboard_RefusedAndQueuedMailFailed()
    {
        await SignInAsync();
        await _page.GotoAsync("/outbox");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Pause queue" }).ClickAsync();
        await Expect(_page.Locator("#queue-state")).ToContainTextAsync("paused");

        await _page.GotoAsync("/share?tenant=trial-42");
        await Expect(_page.Locator("#current-tenant")).ToHaveTextAsync("Trial tenant 42");
        await ShareAsync("buyer@example.com");
        await Expect(_page.Locator("#share-result")).ToContainTextAsync("Queued 1 mail");
        await _page.GotoAsync("/outbox");
        await Expect(_page.Locator("tr.mail[data-tenant='trial-42']")).ToHaveAttributeAsync("data-status", "Queued");

        await _page.GotoAsync("/emailguard/flags");
        await _page.Locator("#flag-apply select[name=type]").SelectOptionAsync("Tenant");
        await _page.Locator("#flag-apply input[name=id]").FillAsync("trial-42");
        await _page.Locator("#flag-apply select[name=reason]").SelectOptionAsync(EmailGuardFlagReasons.Manual);
        await _page.Locator("#flag-apply button").ClickAsync();
        await Expect(_page.Locator("#confirm")).ToContainTextAsync("Suspend Tenant trial-42?");
        await _page.Locator("#confirm-button").ClickAsync();
        await Expect(_page.Locator("#dashboard-message")).ToContainTextAsync("Suspended Tenant trial-42 (manual)");
        await Expect(_page.Locator("tr.flag", new() { HasText = "trial-42" })).ToContainTextAsync("manual");
        await ScreenshotAsync("dashboard-tenant-suspended");

        await _page.GotoAsync("/share");
        await ShareAsync("buyer@example.com");
        await Expect(_page.Locator("#share-result")).ToContainTextAsync("suspended");
        await ScreenshotAsync("share-refused");

        await _page.GotoAsync("/outbox");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Resume queue" }).ClickAsync();
        await Expect(_page.Locator("#outbox-message")).ToContainTextAsync("drained");

        await _page.GotoAsync("/outbox");
        ILocator mails = _page.Locator("tr.mail[data-tenant='trial-42']");
        await Expect(mails).ToHaveCountAsync(1);
        await Expect(mails.First).ToHaveAttributeAsync("data-status", "Failed");
        await Expect(mails.First).ToContainTextAsync("suspended");
        _app.PickedUpMails().Should().BeEmpty();
        await ScreenshotAsync("outbox-queued-mail-failed");
        _errors.Snapshot().Should().BeEmpty();
    }

    [Fact]
    public async Task Pages_EveryPage_RendersWithoutConsoleErrors()
    {
        string[] pages = ["/", "/signup", "/signup/sent", "/password-reset", "/password-reset/sent", "/share", "/outbox", "/signin"];
        foreach (string path in pages)
        {
            IResponse? response = await _page.GotoAsync(path);
            response!.Status.Should().Be(200, path);
            await ScreenshotAsync("page" + (path == "/" ? "-home" : path.Replace('/', '-')));
        }

        await SignInAsync();
        await _page.GotoAsync("/");
        await _page.Locator("#nav-dashboard").ClickAsync();
        await Expect(_page.Locator("#page-title")).ToBeVisibleAsync();
        await ScreenshotAsync("page-dashboard-from-nav");
        await _page.GotoAsync("/password-reset");
        await _page.FillAsync("#email", "nobody@example.com");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Send reset link" }).ClickAsync();
        await Expect(_page.Locator("#reset-sent")).ToBeVisibleAsync();

        _errors.Snapshot().Should().BeEmpty();
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private async Task<IResponse?> SignUpAsync(string email)
    {
        await _page.GotoAsync("/signup");
        await _page.FillAsync("#email", email);
        return await _page.RunAndWaitForResponseAsync(
            () => _page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync(),
            response => response.Request.Method == "POST" && response.Url.EndsWith("/signup", StringComparison.Ordinal));
    }

    private async Task ShareAsync(string recipient)
    {
        await _page.FillAsync("#recipient", recipient);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Share by email" }).ClickAsync();
    }

    private async Task SignInAsync()
    {
        await _page.GotoAsync("/signin");
        await _page.FillAsync("#key", SampleApp.AdminKey);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(_page.Locator("#store-state")).ToBeVisibleAsync();
    }

    private Task ScreenshotAsync(string name)
        => _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });

    [GeneratedRegex(@"try again in (?<minutes>\d+) minutes?")]
    private static partial Regex MinutesPattern();
}
