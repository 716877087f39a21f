using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The browser tests' flows over plain HTTP against the sample on a real port, once per store: the sample must behave
/// the same with the in-memory store and with Redis.
/// </summary>
public abstract partial class SampleFlowTests : IAsyncLifetime
{
    private SampleApp _app = null!;

    protected SampleApp App => _app;

    public Task InitializeAsync()
    {
        _app = SampleApp.Start(Settings());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    /// <summary>Configuration of the store under test.</summary>
    protected abstract IDictionary<string, string?> Settings();

    [Fact]
    public async Task HealthReady_StoreAnswering_Healthy()
    {
        // Degraded until the send guard's lists and flags are loaded, which starts with the app, in the background.
        using SampleHttpClient client = new(App.BaseAddress);
        string status = "";
        for (long started = Stopwatch.GetTimestamp(); status != "Healthy" && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30); await Task.Delay(100))
        {
            using HttpResponseMessage response = await client.GetAsync("/health/ready");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            status = await response.Content.ReadAsStringAsync();
        }

        status.Should().Be("Healthy");
    }

    [Fact]
    public async Task Signup_FirstSubmission_RedirectsAndSendsOneMail()
    {
        using SampleHttpClient client = new(App.BaseAddress);

        using HttpResponseMessage response = await client.SubmitAsync("/signup", "/signup", ("email", "first@example.com"));
        await App.MailDrainedAsync();

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.OriginalString.Should().Be("/signup/sent");
        Outbox().Should().ContainSingle().Which.Should().Match<OutboxEntry>(e => e.To == "first@example.com" && e.Status == OutboxStatus.Sent);
        App.PickedUpMails().Should().ContainSingle();
    }

    [Fact]
    public async Task SignupAndResetPages_ViewedManyTimes_SpendNoQuota()
    {
        using SampleHttpClient client = new(App.BaseAddress);
        for (int i = 0; i < 6; i++)
        {
            (await client.GetStringAsync("/signup")).Should().Contain("Create an account");
            (await client.GetStringAsync("/password-reset")).Should().Contain("Reset your password");
            using HttpResponseMessage head = await client.SendAsync(HttpMethod.Head, "/signup");
            head.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using HttpResponseMessage signup = await client.SubmitAsync("/signup", "/signup", ("email", "first@example.com"));
        using HttpResponseMessage limited = await client.SubmitAsync("/signup", "/signup", ("email", "second@example.com"));
        using HttpResponseMessage viewAfterLimit = await client.GetAsync("/signup");

        signup.StatusCode.Should().Be(HttpStatusCode.Redirect, "viewing the form six times spent none of the one sign-up per 15 minutes");
        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the POST handler is limited");
        viewAfterLimit.StatusCode.Should().Be(HttpStatusCode.OK, "a limited visitor can still see the form");
    }

    [Theory]
    [InlineData("base-news@yahoo.com", "base@yahoo.com")]
    [InlineData("j.doe+shop@gmail.com", "jdoe@gmail.com")]
    public async Task Signup_DisposableOrTaggedAddress_MailAddressedAsTypedNotFolded(string typed, string folded)
    {
        using SampleHttpClient client = new(App.BaseAddress);

        using HttpResponseMessage response = await client.SubmitAsync("/signup", "/signup", ("email", typed));
        await App.MailDrainedAsync();

        response.Headers.Location!.OriginalString.Should().Be("/signup/sent");
        Outbox().Should().ContainSingle().Which.To.Should().Be(typed);
        string eml = await File.ReadAllTextAsync(App.PickedUpMails().Should().ContainSingle().Subject);
        string to = Regex.Match(eml, @"^To: (?<to>.*?)\r?$", RegexOptions.Multiline).Groups["to"].Value;
        to.Should().Be(typed, "{0} is a counter key, and may be someone else's inbox", folded);
        App.Services.GetRequiredService<SampleDatabase>().AccountExists(typed).Should().BeTrue();
        App.Services.GetRequiredService<SampleDatabase>().AccountExists(folded).Should().BeFalse();
    }

    [Fact]
    public async Task PasswordReset_AccountSignedUpWithAYahooDisposableAddress_LinkGoesToThatAddressNotItsBase()
    {
        using SampleHttpClient client = new(App.BaseAddress);
        (await client.SubmitAsync("/signup", "/signup", ("email", "base-news@yahoo.com"))).Dispose();

        (await client.SubmitAsync("/password-reset", "/password-reset", ("email", "base-news@yahoo.com"))).Dispose();
        await App.MailDrainedAsync();

        Outbox().Select(e => (e.Category, e.To, e.Status)).Should().BeEquivalentTo(
            [("signup", "base-news@yahoo.com", OutboxStatus.Sent), ("password-reset", "base-news@yahoo.com", OutboxStatus.Sent)],
            "base@yahoo.com may be someone else's inbox: a reset link must never go there");
    }

    [Fact]
    public async Task Signup_AddressWithAnAccount_SameAnswerAndANoticeInsteadOfAConfirmation()
    {
        App.Services.GetRequiredService<SampleDatabase>().TryCreateAccount("known@example.com", DateTimeOffset.UnixEpoch).Should().BeTrue();
        using SampleHttpClient client = new(App.BaseAddress);

        using HttpResponseMessage response = await client.SubmitAsync("/signup", "/signup", ("email", "known@example.com"));
        await App.MailDrainedAsync();

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.OriginalString.Should().Be("/signup/sent");
        OutboxEntry notice = Outbox().Should().ContainSingle().Subject;
        (notice.Category, notice.To, notice.Status).Should().Be(("signup", "known@example.com", OutboxStatus.Sent));
        notice.Subject.Should().Be("Someone tried to sign up with your address");
    }

    [Fact]
    public async Task Signup_SecondSubmissionFromSameClient_FriendlyPageWithRetryAfterAndNoSecondMail()
    {
        using SampleHttpClient client = new(App.BaseAddress);
        (await client.SubmitAsync("/signup", "/signup", ("email", "first@example.com"))).Dispose();

        using HttpResponseMessage response = await client.SubmitAsync("/signup", "/signup", ("email", "second@example.com"));

        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        long retryAfter = (long)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        retryAfter.Should().BeInRange(1, (15 * 60) + 15, "one sign-up per 15 minutes, sliding over 15-second segments");
        string html = await response.Content.ReadAsStringAsync();
        Match minutes = MinutesPattern().Match(html);
        minutes.Success.Should().BeTrue();
        int shown = int.Parse(minutes.Groups["minutes"].Value, CultureInfo.InvariantCulture);
        shown.Should().Be((int)Math.Max(1, Math.Round(retryAfter / 60.0, MidpointRounding.AwayFromZero)), "the page is computed from Retry-After");
        html.Should().Contain("Too many sign-ups from your network");
        await App.MailDrainedAsync();
        Outbox().Should().ContainSingle();
        App.PickedUpMails().Should().ContainSingle();
    }

    [Fact]
    public async Task PasswordReset_KnownAndUnknownAccount_SameAnswerSameWorkBothQueuedNothingSentInline()
    {
        App.Services.GetRequiredService<SampleDatabase>().TryCreateAccount("known@example.com", DateTimeOffset.UnixEpoch).Should().BeTrue();
        MailQueue queue = App.Services.GetRequiredService<MailQueue>();
        using SampleHttpClient client = new(App.BaseAddress);
        queue.Pause();

        using HttpResponseMessage known = await client.SubmitAsync("/password-reset", "/password-reset", ("email", "known@example.com"));
        using HttpResponseMessage unknown = await client.SubmitAsync("/password-reset", "/password-reset", ("email", "unknown@example.com"));

        known.StatusCode.Should().Be(HttpStatusCode.Redirect).And.Be(unknown.StatusCode);
        known.Headers.Location.Should().Be(unknown.Headers.Location);
        (await known.Content.ReadAsStringAsync()).Should().Be(await unknown.Content.ReadAsStringAsync());
        Outbox().Select(e => (e.To, e.Status)).Should().BeEquivalentTo(
            [("known@example.com", OutboxStatus.Queued), ("unknown@example.com", OutboxStatus.Queued)],
            "both requests did the same work: one guard check, one mail queued");
        App.PickedUpMails().Should().BeEmpty("nothing is sent while the request runs, for either address");
        queue.Pending.Should().Be(2);

        queue.Resume();
        await App.MailDrainedAsync();

        Outbox().Select(e => (e.To, e.Status)).Should().BeEquivalentTo(
            [("known@example.com", OutboxStatus.Sent), ("unknown@example.com", OutboxStatus.Skipped)]);
        App.PickedUpMails().Should().ContainSingle();
    }

    [Fact]
    public async Task Share_TenantSuspendedWhileMailQueued_NewShareRefusedAndQueuedMailFailed()
    {
        using SampleHttpClient admin = new(App.BaseAddress, SampleApp.AdminKey);
        using SampleHttpClient tenant = new(App.BaseAddress);
        (await admin.SubmitAsync("/outbox", "/outbox?handler=PauseQueue")).Dispose();
        (await tenant.GetAsync("/share?tenant=trial-42")).Dispose();
        using HttpResponseMessage queued = await tenant.SubmitAsync("/share", "/share", ("order", "TRIAL-42-PO-1001"), ("recipient", "buyer@example.com"));
        (await queued.Content.ReadAsStringAsync()).Should().Contain("Queued 1 mail");
        Outbox().Should().ContainSingle().Which.Status.Should().Be(OutboxStatus.Queued);

        using HttpResponseMessage suspended = await admin.SuspendTenantAsync("trial-42");
        using HttpResponseMessage refused = await tenant.SubmitAsync("/share", "/share", ("order", "TRIAL-42-PO-1001"), ("recipient", "buyer@example.com"));
        using HttpResponseMessage resumed = await admin.SubmitAsync("/outbox", "/outbox?handler=ResumeQueue");

        suspended.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        string flagsPage = await admin.GetStringAsync(suspended.Headers.Location!.ToString());
        flagsPage.Should().Contain("Suspended Tenant trial-42 (manual)", "the page the action redirects to shows its notice");

        (await refused.Content.ReadAsStringAsync()).Should().Contain("Refused: sending for tenant trial-42 is suspended");
        (await resumed.Content.ReadAsStringAsync()).Should().Contain("drained");
        OutboxEntry failed = Outbox().Should().ContainSingle().Subject;
        failed.Status.Should().Be(OutboxStatus.Failed);
        failed.Detail.Should().Contain("suspended");
        App.PickedUpMails().Should().BeEmpty();
    }

    [Fact]
    public async Task Share_FloodFromTrialTenant_StopsAtItsCustomHourlyCap()
    {
        using SampleHttpClient tenant = new(App.BaseAddress);
        (await tenant.GetAsync("/share?tenant=trial-42")).Dispose();

        using HttpResponseMessage response = await tenant.SubmitAsync(
            "/share", "/share", ("order", "TRIAL-42-PO-1002"), ("recipient", "buyer@example.com"), ("copies", "20"));

        string html = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
        html.Should().Contain("tenant trial-42 reached its cap of 5 per hour").And.Contain("5 of 20 queued");
        Outbox().Should().HaveCount(5);
    }

    [Fact]
    public async Task Share_TrialTenantSendsOneInjectedNoteTo40Suppliers_ContentRuleStopsItBeforeItsCapAndFlagsItsUser()
    {
        // The purchase-order incident: a trial tenant drives the share feature with its own phishing text.
        const string Injected = "URGENT: our bank details changed. Confirm your supplier account at http://vendor-verify.example/login?ref=po before shipping.";
        using SampleHttpClient tenant = new(App.BaseAddress);
        (await tenant.GetAsync("/share?tenant=trial-42")).Dispose();

        List<string> pages = [];
        for (int i = 0; i < 40; i++)
        {
            using HttpResponseMessage response = await tenant.SubmitAsync(
                "/share", "/share", ("order", "TRIAL-42-PO-1001"), ("recipient", $"sales@supplier{i}.example"), ("note", Injected));
            pages.Add(WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()));
        }

        pages.Count(p => p.Contains("Queued 1 mail", StringComparison.Ordinal)).Should().Be(3);
        pages[3].Should().Contain("Refused: the same text reached its cap of 3 recipients per hour");
        Outbox().Should().HaveCount(3, "the content rule stopped the tenant before its cap of 5");
        IEmailGuardFlags flags = App.Services.GetRequiredService<IEmailGuardFlags>();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "trial-42:owner")).Should().ContainSingle().Which.Reason.Should().Be(EmailGuardFlagReasons.BulkContent);
        EmailGuardStatus status = await App.Services.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-42" });
        status.Usage.Where(u => u.Dimension == EmailGuardDimension.Tenant).Should().OnlyContain(u => u.Count == 3, "denied shares took nothing from the tenant's cap");
    }

    private IReadOnlyList<OutboxEntry> Outbox() => App.Services.GetRequiredService<Outbox>().Snapshot();

    [GeneratedRegex(@"try again in (?<minutes>\d+) minutes?")]
    private static partial Regex MinutesPattern();
}

public sealed class InMemorySampleFlowTests : SampleFlowTests
{
    protected override IDictionary<string, string?> Settings() => new Dictionary<string, string?>();

    [Fact]
    public void Store_Default_IsInMemory()
        => App.Services.GetRequiredService<IRateLimitStore>().GetType().Name.Should().Be("InMemoryRateLimitStore");
}
