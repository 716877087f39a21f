using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The EmailGuard dashboard in the sample, in headless Chromium, on the in-memory store and on a real Redis: every page
/// renders under its Content-Security-Policy with no console error and no CSP violation, hostile values never run, and
/// the actions work through their confirmation step. Screenshots go to the screenshot folder (dashboard-*.png).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class DashboardBrowserTests(BrowserFixture browser)
{
    private const string ScriptTenant = "<script>alert('tenant')</script>";
    private const string ImgValue = "\"><img src=x onerror=alert('img')>";

    private static readonly (string Path, string Name)[] Pages =
    [
        ("/emailguard/", "overview"),
        ("/emailguard/policies", "policies"),
        ("/emailguard/lists", "blocklist"),
        ("/emailguard/lists?kind=Allowlist", "allowlist"),
        ("/emailguard/lists?kind=Blocklist&type=ClientNetwork", "ip-deny-list"),
        ("/emailguard/lists?kind=Allowlist&type=ClientNetwork", "ip-allow-list"),
        ("/emailguard/flags", "flags"),
        ("/emailguard/events", "events"),
    ];

    [Fact]
    public Task EveryPage_InMemoryStore_RendersUnderCspAndActionsWork() => RunAsync("memory", new Dictionary<string, string?>());

    [Fact]
    public async Task EveryPage_Redis_RendersUnderCspAndActionsWork()
    {
        RedisServerFixture redis = new();
        await redis.InitializeAsync();
        try
        {
            await RunAsync("redis", new Dictionary<string, string?>
            {
                ["EmailGuard:Redis:Configuration"] = redis.ConnectionString,
                ["EmailGuard:Redis:KeyPrefix"] = $"dashboard-test:{Guid.NewGuid():N}:",
            });
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task Dashboard_WithoutAdminKey_SentToSignIn()
    {
        await using SampleApp app = SampleApp.Start();
        await using IBrowserContext context = await browser.NewContextAsync(app.BaseAddress);
        IPage page = await context.NewPageAsync();

        await page.GotoAsync("/emailguard/lists");

        page.Url.Should().EndWith("/signin?returnUrl=%2Femailguard%2Flists");
        (await page.ContentAsync()).Should().NotContain("list-entries");
    }

    private async Task RunAsync(string store, Dictionary<string, string?> settings)
    {
        await using SampleApp app = SampleApp.Start(settings);
        await SeedAsync(app);
        await using IBrowserContext context = await browser.NewContextAsync(app.BaseAddress);
        await context.AddCookiesAsync([new Cookie { Name = "sample-admin-key", Value = SampleApp.AdminKey, Url = app.BaseAddress.ToString() }]);
        // Not subject to the page's CSP: reports every violation as a console error, which ConsoleErrors collects.
        await context.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));");
        IPage page = await context.NewPageAsync();
        ConsoleErrors errors = ConsoleErrors.Attach(page);
        List<string> dialogs = [];
        page.Dialog += (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };

        foreach ((string path, string name) in Pages)
        {
            IResponse? response = await page.GotoAsync(path);
            response!.Status.Should().Be(200, path);
            (await response.HeaderValueAsync("content-security-policy")).Should().StartWith("default-src 'none'; style-src 'nonce-");
            await Expect(page.Locator("#page-title")).ToBeVisibleAsync();
            await ScreenshotAsync(page, $"dashboard-{store}-{name}");
        }

        await page.GotoAsync("/emailguard/");
        await Expect(page.Locator("#top-tenant-usage")).ToContainTextAsync(ScriptTenant);
        await Expect(page.Locator("#denials-chart")).ToBeVisibleAsync();
        await Expect(page.Locator("#top-tenant-denials")).ToContainTextAsync(ScriptTenant);
        await Expect(page.Locator("#denial-reasons")).ToContainTextAsync("Blocklisted");
        await Expect(page.Locator("#feedback-ratios tr.ratio[data-dimension='Global']")).ToBeVisibleAsync();

        // The top denied tenant links to its lookup: its own usage, flags and ratios, under the page's CSP.
        await page.Locator("#top-tenant-denials a", new() { HasText = ScriptTenant }).ClickAsync();
        await Expect(page.Locator("#party-name")).ToHaveTextAsync(ScriptTenant);
        await Expect(page.Locator("#party-usage tr", new() { HasText = ScriptTenant }).First).ToBeVisibleAsync();
        await Expect(page.Locator("#party-ratios")).ToBeVisibleAsync();
        await ScreenshotAsync(page, $"dashboard-{store}-tenant-lookup");

        // The sign-up and password-reset policies sit on the pages' OnPostAsync handlers, not on the endpoints.
        await page.GotoAsync("/emailguard/policies");
        await Expect(page.Locator("#policy-endpoints tr", new() { HasText = "/signup" }).Locator("td")).ToHaveTextAsync(["/signup", "POST", "OnPostAsync", "signup"]);
        await Expect(page.Locator("#policy-endpoints tr", new() { HasText = "/password-reset" }).Locator("td"))
            .ToHaveTextAsync(["/password-reset", "POST", "OnPostAsync", "password-reset"]);

        await page.GotoAsync("/emailguard/events");
        await Expect(page.Locator("tr.event", new() { HasText = "high_bounce_rate" }).First).ToContainTextAsync(ImgValue);

        // The IP deny list: the hostile reason shows as text; a network added here is stored as its network.
        await page.GotoAsync("/emailguard/lists?kind=Blocklist&type=ClientNetwork");
        await Expect(page.Locator("tr.entry", new() { HasText = "198.51.100.0/24" })).ToContainTextAsync(ImgValue);
        await page.Locator("#list-add input[name=value]").FillAsync("2001:DB8:abcd::1/48");
        await page.Locator("#list-add button").ClickAsync();
        await Expect(page.Locator("#dashboard-message")).ToContainTextAsync("Added ClientNetwork 2001:db8:abcd::/48");
        await Expect(page.Locator("#ip-list-help")).ToBeVisibleAsync();
        await ScreenshotAsync(page, $"dashboard-{store}-ip-deny-added");
        (await app.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:abcd::/48")).Should().NotBeNull();

        // Add, then remove through the confirmation step.
        await page.GotoAsync("/emailguard/lists");
        await page.Locator("#list-add select[name=type]").SelectOptionAsync("Recipient");
        await page.Locator("#list-add input[name=value]").FillAsync("browser@example.com");
        await page.Locator("#list-add input[name=reason]").FillAsync("spam_trap");
        await page.Locator("#list-add button").ClickAsync();
        await Expect(page.Locator("#dashboard-message")).ToContainTextAsync("Added Recipient browser@example.com");
        await page.Locator("tr.entry", new() { HasText = "browser@example.com" }).GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(page.Locator("#confirm")).ToContainTextAsync("Remove Recipient browser@example.com");
        await ScreenshotAsync(page, $"dashboard-{store}-confirm");
        await page.Locator("#confirm-button").ClickAsync();
        await Expect(page.Locator("#dashboard-message")).ToContainTextAsync("Removed Recipient browser@example.com");
        (await app.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "browser@example.com")).Should().BeNull();

        // Clear the hostile tenant's flag, confirmed.
        await page.GotoAsync("/emailguard/flags");
        await page.Locator("tr.flag", new() { HasText = "onerror" }).GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await page.Locator("#confirm-button").ClickAsync();
        await Expect(page.Locator("#dashboard-message")).ToContainTextAsync("Cleared 1 flag");
        await ScreenshotAsync(page, $"dashboard-{store}-flag-cleared");

        dialogs.Should().BeEmpty("no hostile value may run as script");
        errors.Snapshot().Should().BeEmpty();
    }

    private static async Task SeedAsync(SampleApp app)
    {
        IEmailSendGuard guard = app.Services.GetRequiredService<IEmailSendGuard>();
        await app.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@victim.example", "spam_trap");
        for (int i = 0; i < 4; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = ["trap@victim.example"], TenantId = ScriptTenant, UserId = ImgValue })).IsAllowed.Should().BeFalse();
        }

        for (int i = 0; i < 12; i++)
        {
            await guard.CheckAsync(new OutboundEmail
            {
                To = [$"user{i}@victim.example"],
                TenantId = i < 8 ? ScriptTenant : "acme",
                UserId = ImgValue,
                Category = "share",
                ClientIp = System.Net.IPAddress.Parse("203.0.113.7"),
            });
        }

        await app.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, ScriptTenant, ImgValue, addedBy: ScriptTenant);
        await app.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.User, ImgValue, ScriptTenant);
        await app.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, ImgValue, EmailGuardFlagReasons.HighBounceRate, flaggedBy: ScriptTenant);
        await app.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.0/24", ImgValue, addedBy: ScriptTenant);
    }

    private static Task ScreenshotAsync(IPage page, string name)
        => page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });
}
