using Microsoft.Playwright;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The sample's development stand-in challenge in headless Chromium: with the signup policy asking for a challenge,
/// a sign-up without the answer gets the "one more step" page (403) and no mail; with it, the mail goes out.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class SampleChallengeBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private SampleApp _app = null!;
    private IBrowserContext _context = null!;
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        _app = SampleApp.Start(new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PolicyDefenses:signup:RequireChallenge"] = "true",
        });
        _context = await browser.NewContextAsync(_app.BaseAddress);
        _page = await _context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        await _context.CloseAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Signup_ChallengeRequired_WithoutAnswer403ThenWithAnswerMailSent()
    {
        await _page.GotoAsync("/signup");
        await Assertions.Expect(_page.Locator("fieldset.dev-challenge legend")).ToContainTextAsync("Development stand-in");
        await _page.FillAsync("#email", "person@example.com");
        IResponse challenged = await _page.RunAndWaitForResponseAsync(
            () => _page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.EndsWith("/signup", StringComparison.Ordinal));

        challenged.Status.Should().Be(403);
        await Assertions.Expect(_page.Locator("#challenge-message")).ToContainTextAsync("show us you are human");

        await _page.Locator("#challenge-back").ClickAsync();
        await _page.FillAsync("#email", "person@example.com");
        await _page.FillAsync("#dev-challenge", "human");
        IResponse passed = await _page.RunAndWaitForResponseAsync(
            () => _page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.EndsWith("/signup", StringComparison.Ordinal));

        passed.Status.Should().BeOneOf(200, 302);
        await Assertions.Expect(_page.Locator("#signup-sent")).ToContainTextAsync("confirmation mail");
        await _app.MailDrainedAsync();
        _app.PickedUpMails().Should().ContainSingle();
    }

    [Fact]
    public async Task Dashboard_IpDenyList_AddListRemove()
    {
        await _page.GotoAsync("/emailguard/lists");
        await _page.FillAsync("#key", SampleApp.AdminKey);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await _page.Locator("#ip-deny-tab").ClickAsync();

        await _page.FillAsync("#list-add input[name=value]", "2001:DB8:abcd::1/48");
        await _page.FillAsync("#list-add input[name=reason]", "signup_flood");
        await _page.Locator("#list-add button").ClickAsync();

        ILocator entries = _page.Locator("#list-entries tr.entry");
        await Assertions.Expect(entries).ToHaveCountAsync(1);
        await Assertions.Expect(entries.First).ToContainTextAsync("2001:db8:abcd::/48");
        await Assertions.Expect(entries.First).ToContainTextAsync("ClientNetwork");

        await entries.First.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await _page.Locator("#confirm-button").ClickAsync();
        await Assertions.Expect(_page.Locator("#dashboard-message")).ToContainTextAsync("Removed ClientNetwork 2001:db8:abcd::/48");
        await Assertions.Expect(_page.Locator("#list-entries tr.entry")).ToHaveCountAsync(0);
    }
}
