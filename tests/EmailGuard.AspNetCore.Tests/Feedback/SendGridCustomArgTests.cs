using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// SendGrid echoes custom args as top-level keys beside its own fields, so a tenant whose custom args the app passes
/// through, and who names one like SendGrid's field (<c>email</c>, <c>event</c>, <c>sg_event_id</c>, <c>type</c>), gets
/// events with two copies of it. Such events were skipped whole: every bounce of the tenant's mail counted nowhere, and
/// no breaker tripped. Signed batches through the real route into EmailGuard's own feedback, the rogue's mail tracked by
/// the X-Message-Id its transport returned.
/// </summary>
public sealed class SendGridCustomArgTests : IAsyncLifetime
{
    private const int Mails = 5;
    private const string Victim = "victim@example.com";
    private static readonly EmailSendAttribution s_rogue = new() { TenantId = "rogue", UserId = "spammer", Category = "share" };
    private static readonly EmailSendAttribution s_good = new() { TenantId = "good", UserId = "someone", Category = "invoice" };

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private WebhookTestApp _app = null!;

    private IServiceProvider Services => _app.App.App.Services;

    public async Task InitializeAsync()
    {
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo())), realFeedback: true);
        IEmailGuardFeedback feedback = Services.GetRequiredService<IEmailGuardFeedback>();
        for (int i = 0; i < Mails; i++)
        {
            await feedback.TrackForProviderAsync("sendgrid", XMessageId(i), s_rogue);
        }
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }

    [Theory]
    [InlineData("email", Victim, false)]
    [InlineData("event", "delivered", false)]
    [InlineData("event", "open", false)]
    [InlineData("sg_event_id", "constant", true)]
    [InlineData("type", "blocked", false)]
    [InlineData("bounce_classification", "Content", false)]
    [InlineData("timestamp", "0", true)]
    public async Task RogueTenantsBounces_WithACustomArgNamedLikeSendGridsField_CountAgainstItAndTheAccount(string field, string value, bool addressCertain)
    {
        // Arrange: each of the rogue's mails bounced at a dead address. Its custom args repeat SendGrid's field, and name
        // the good tenant in EmailGuard's tags besides.
        string batch = Batch(Enumerable.Range(0, Mails).Select(i => Bounce(i, $"dead{i}@example.com", (field, value))));

        // Act: SendGrid posts the batch, and retries it.
        for (int post = 0; post < 2; post++)
        {
            using HttpResponseMessage response = await _app.SendAsync(Signed(batch));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        // Assert
        (await BouncesAsync(EmailGuardDimension.Tenant, "rogue")).Should().Be(Mails, "every bounce of the rogue's mail counts against it, once");
        (await BouncesAsync(EmailGuardDimension.User, "spammer")).Should().Be(Mails);
        (await BouncesAsync(EmailGuardDimension.Global, null)).Should().Be(Mails, "and against the account, whose rate the provider acts on");
        (await BouncesAsync(EmailGuardDimension.Tenant, "good")).Should().Be(0, "the tags of a mail whose custom args are the sender's own name no one");
        await ShouldNotBeSuppressedAsync(Victim);
        IEmailGuardLists lists = Services.GetRequiredService<IEmailGuardLists>();
        for (int i = 0; i < Mails; i++)
        {
            string dead = $"dead{i}@example.com";
            (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, dead) is not null)
                .Should().Be(addressCertain, $"{dead} is suppressed only when what the event says of it is certain");
        }

        _app.LogsWithId(3044).Should().HaveCount(2 * Mails);
        _app.LogsWithId(2920).Should().BeEmpty();
    }

    [Fact]
    public async Task RecipientRepeated_NoAddressIsSuppressed()
    {
        // A hard bounce of a dead address suppresses it, but which copy of "email" is SendGrid's cannot be told: read as
        // the victim's, the bounce of the rogue's dead address cut the victim off from every tenant's mail.
        string batch = Batch([Bounce(0, "dead0@example.com", ("email", Victim)), Bounce(1, Victim, ("email", "dead1@example.com"))]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await BouncesAsync(EmailGuardDimension.Tenant, "rogue")).Should().Be(2);
        await ShouldNotBeSuppressedAsync(Victim);
        await ShouldNotBeSuppressedAsync("dead0@example.com");
        (await Services.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [Victim], TenantId = "good", Category = "invoice" }))
            .IsAllowed.Should().BeTrue("a good tenant still reaches its customer");
    }

    [Fact]
    public async Task SameFieldRepeatedWithTheSameValue_IsCertain_AndSuppressesAsSendGridSaid()
    {
        // A custom arg "event" = "bounce" beside SendGrid's own "bounce": both copies agree, so one of them is SendGrid's.
        string batch = Batch([Bounce(0, "dead0@example.com", ("event", "bounce"))]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await BouncesAsync(EmailGuardDimension.Tenant, "rogue")).Should().Be(1);
        (await Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "dead0@example.com"))
            .Should().NotBeNull("SendGrid said the address bounced for good");
    }

    [Fact]
    public async Task EventNamedBounce_OnEveryEventOfADeliveredMail_CountsOneBouncePerMail()
    {
        // A custom arg "event" = "bounce" makes every event of a mail read as its bounce: processed, delivered, and each
        // open, which its sender can make as often as it likes. It chose that reading, so the mail counts as bounced
        // against it; but once, not once per open, or it could swell the account's bounces at will.
        (string, string) arg = ("event", "bounce");
        string batch = Batch([
            Event(0, "processed", "a@example.com", "p0", arg),
            Event(0, "delivered", "a@example.com", "d0", arg),
            .. Enumerable.Range(0, 10).Select(n => Event(0, "open", "a@example.com", "o0-" + n.ToString(CultureInfo.InvariantCulture), arg)),
            Event(1, "delivered", "b@example.com", "d1", arg),
        ]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await BouncesAsync(EmailGuardDimension.Tenant, "rogue")).Should().Be(2, "two mails");
        (await BouncesAsync(EmailGuardDimension.Global, null)).Should().Be(2);
        EmailFeedbackCounts counts = await Services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        counts.Delivered.Should().Be(0, "a delivery that may be the sender's own copy dilutes no ratio");
        await ShouldNotBeSuppressedAsync("a@example.com");
    }

    [Fact]
    public async Task AppsOwnCustomArgsNamedEventAndType_WithValuesSendGridNeverWrites_AreReadAsSendGridWroteThem()
    {
        // An app that names custom args "event" and "type" for its own bookkeeping: only one copy of each is a value
        // SendGrid writes there, so that copy is SendGrid's. Read as uncertain, its deliveries counted nowhere (its bounce
        // ratio read 100% where it sends through no guard) and its dead addresses were never suppressed.
        (string, string) @event = ("event", "password_reset");
        string batch = Batch([
            Event(0, "delivered", "alive@example.com", "d0", @event),
            Bounce(1, "dead1@example.com", @event, ("type", "newsletter")),
        ]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackCounts counts = await Services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        (counts.Delivered, counts.Bounces).Should().Be((1, 1));
        (await Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "dead1@example.com"))
            .Should().NotBeNull("SendGrid's copies say the address bounced for good");
    }

    [Fact]
    public async Task SpamReportHiddenBehindEvent_CountsAsAComplaint()
    {
        string batch = Batch([Event(0, "spamreport", "reader@example.com", "s0", ("event", "delivered"))]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackCounts counts = await Services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        (counts.Complaints, counts.Delivered).Should().Be((1, 0));
        await ShouldNotBeSuppressedAsync("reader@example.com");
    }

    [Fact]
    public async Task MessageIdRepeated_ChargesTheAccountOnly()
    {
        // Without a certain sg_message_id no tracked send names the parties, and the tags are the sender's own.
        string batch = Batch(Enumerable.Range(0, Mails).Select(i => Bounce(i, $"dead{i}@example.com", ("sg_message_id", XMessageId(0)))));

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await BouncesAsync(EmailGuardDimension.Global, null)).Should().Be(Mails, "a constant sg_message_id makes no two mails one");
        (await BouncesAsync(EmailGuardDimension.Tenant, "good")).Should().Be(0);
    }

    [Fact]
    public async Task DropWithItsAddressRepeated_IsNotRecorded()
    {
        // A drop counts nowhere; all it would do is suppress an address that may be the sender's choice.
        string batch = Batch([Event(0, "dropped", "gone@example.com", "x0", ("reason", "Bounced Address"), ("email", Victim))]);

        (await _app.SendAsync(Signed(batch))).StatusCode.Should().Be(HttpStatusCode.OK);

        await ShouldNotBeSuppressedAsync(Victim);
        await ShouldNotBeSuppressedAsync("gone@example.com");
        _app.LogsWithId(2920).Should().ContainSingle();
    }

    private static string XMessageId(int mail) => "RoGue" + mail.ToString(CultureInfo.InvariantCulture) + "x9z9lSTSaqYBWJe";

    private static string Batch(IEnumerable<string> events) => "[" + string.Join(',', events) + "]";

    private static string Bounce(int mail, string email, params (string Key, string Value)[] customArgs)
        => Event(mail, "bounce", email, "b" + mail.ToString(CultureInfo.InvariantCulture), [("type", "bounce"), ("bounce_classification", "Invalid Address"), ("reason", "550 5.1.1 unknown user"), .. customArgs]);

    /// <summary>
    /// An event as SendGrid writes it, its fields then the custom args (which may repeat a field), then EmailGuard's tags
    /// naming the good tenant. Written by hand: a JSON writer keeps one copy of a key.
    /// </summary>
    private static string Event(int mail, string type, string email, string eventId, params (string Key, string Value)[] extra)
    {
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $$"""{"email":"{{email}}","timestamp":1772409600,"event":"{{type}}","sg_event_id":"{{eventId}}",""");
        json.Append(CultureInfo.InvariantCulture, $"\"sg_message_id\":\"{XMessageId(mail)}.filterdrecv-5645d9c87f-6r2ch-1-5B5B0F2A-{mail}.0\",");
        json.Append("\"smtp-id\":\"<x@ismtpd-555>\"");
        foreach ((string key, string value) in extra)
        {
            json.Append(CultureInfo.InvariantCulture, $",\"{key}\":{(key == "timestamp" ? value : $"\"{value}\"")}");
        }

        foreach (KeyValuePair<string, string> tag in EmailFeedbackTags.Write(s_good))
        {
            json.Append(CultureInfo.InvariantCulture, $",\"{tag.Key}\":\"{tag.Value}\"");
        }

        return json.Append('}').ToString();
    }

    private HttpRequestMessage Signed(string body) => WebhookTestApp.SignedSendGridRequest(_key, _app.Time.GetUtcNow(), body);

    private async Task<long> BouncesAsync(EmailGuardDimension dimension, string? partition)
        => (await Services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(dimension, partition)).Bounces;

    private async Task ShouldNotBeSuppressedAsync(string address)
        => (await Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, address))
            .Should().BeNull($"{address} is named by a field whose copies differ");
}
