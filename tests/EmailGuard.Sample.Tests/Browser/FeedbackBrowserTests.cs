using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The feedback loop in headless Chromium: the sample's simulated provider reports a bounce through the real, signed
/// Mailgun webhook, and the guard refuses the next mail to that address.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class FeedbackBrowserTests(BrowserFixture browser) : IAsyncLifetime
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
    public async Task Signup_ToTheBounceDomain_ShowsBouncedSuppressesTheAddressAndRefusesTheNextMail()
    {
        await _page.GotoAsync("/signup");
        await _page.FillAsync("#email", "x@bounce.test");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await Expect(_page.Locator("#signup-sent")).ToBeVisibleAsync();
        await _app.MailDrainedAsync();

        await _page.GotoAsync("/outbox");
        ILocator mail = _page.Locator("tr.mail", new() { HasText = "x@bounce.test" });
        await Expect(mail).ToHaveCountAsync(1);
        await Expect(mail).ToHaveAttributeAsync("data-status", "Bounced");
        await Expect(mail).ToContainTextAsync("permanent bounce");
        await ScreenshotAsync("feedback-outbox-bounced");

        // The provider echoed the mail's signed tags (EmailGuard:Feedback:TagSigningKeys in appsettings.Development.json):
        // they verified, so the bounce is charged to the mail's category as well as to all mail.
        IEmailFeedbackCounts counts = _app.Services.GetRequiredService<IEmailFeedbackCounts>();
        (await counts.GetAsync(EmailGuardDimension.Category, "signup")).Bounces.Should().Be(1);
        (await counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(1);

        await SignInAsync();
        await _page.GotoAsync("/emailguard/lists?q=x%40bounce.test");
        ILocator suppressed = _page.Locator("tr.entry", new() { HasText = "x@bounce.test" });
        await Expect(suppressed).ToHaveCountAsync(1);
        await Expect(suppressed).ToContainTextAsync("hard_bounce");
        await Expect(_page.Locator("#list-reasons tr", new() { HasText = "hard_bounce" })).ToContainTextAsync("1");
        await ScreenshotAsync("feedback-dashboard-suppressed");

        await _page.GotoAsync("/emailguard/events");
        await Expect(_page.Locator("tr.event", new() { HasText = "x@bounce.test suppressed: hard_bounce" })).ToHaveCountAsync(1);
        await _page.GotoAsync("/emailguard/");
        await Expect(_page.Locator("#feedback-ratios tr.ratio[data-dimension='Global'] td").Nth(3)).ToHaveTextAsync("1");
        await ScreenshotAsync("feedback-dashboard-ratios");

        // A second sign-up from this browser would meet the one-per-15-minutes network limit first; another form
        // shows the suppression itself: the guard refuses the address before any counter moves.
        await _page.GotoAsync("/share");
        await _page.FillAsync("#recipient", "x@bounce.test");
        await _page.GetByRole(AriaRole.Button, new() { Name = "Share by email" }).ClickAsync();
        await Expect(_page.Locator("#share-result")).ToContainTextAsync("blocklist");
        await Expect(_page.Locator("#share-result")).ToContainTextAsync("hard_bounce");
        await ScreenshotAsync("feedback-next-mail-refused");
        await _app.MailDrainedAsync();

        await _page.GotoAsync("/outbox");
        await Expect(_page.Locator("tr.mail", new() { HasText = "x@bounce.test" })).ToHaveCountAsync(1);
        _errors.Snapshot().Should().BeEmpty();
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private async Task SignInAsync()
    {
        await _page.GotoAsync("/signin");
        await _page.FillAsync("#key", SampleApp.AdminKey);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(_page.Locator("#store-state")).ToBeVisibleAsync();
    }

    private Task ScreenshotAsync(string name)
        => _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });
}
