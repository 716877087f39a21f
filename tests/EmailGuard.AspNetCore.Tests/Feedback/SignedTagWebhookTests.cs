using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// A rogue tenant whose custom args (SendGrid) or variables (Mailgun) the app passes to the provider outside the guarded
/// senders names a rival in EmailGuard's tags. With <c>EmailGuard:Feedback:TagSigningKeys</c> set, signed webhooks through
/// the real routes into EmailGuard's own feedback charge the rival only for tags the guard signed. No message id is
/// tracked: the tags alone decide.
/// </summary>
public sealed class SignedTagWebhookTests : IAsyncLifetime
{
    private static readonly string s_key = Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
    private readonly ECDsa _sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private WebhookTestApp _app = null!;

    private IServiceProvider Services => _app.App.App.Services;

    public async Task InitializeAsync()
    {
        Dictionary<string, string?> configuration = WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGrid.ExportSubjectPublicKeyInfo()));
        configuration["EmailGuard:Feedback:TagSigningKeys:0"] = s_key;
        _app = await WebhookTestApp.StartAsync(configuration, realFeedback: true);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _sendGrid.Dispose();
    }

    [Fact]
    public async Task SendGrid_ForgedCustomArgsNamingARival_ChargeTheAccountOnly_WhileGenuineOnesChargeTheirTenant()
    {
        // Arrange: one mail of the rival's, signed by the guard; five of the rogue's, whose custom args name the rival,
        // unsigned or with the rival's signature copied on.
        IReadOnlyDictionary<string, string> genuine = await SignedTagsAsync("rival");
        Dictionary<string, string> copied = new(EmailFeedbackTags.Write(new EmailSendAttribution { SendId = "Zm9yZ2VkLWlkLTAw", TenantId = "rival" }))
        {
            [EmailFeedbackTags.SignatureTag] = genuine[EmailFeedbackTags.SignatureTag],
        };
        string[] events =
        [
            SendGridBounce("genuine", "dead-genuine@example.com", genuine),
            SendGridBounce("copied", "dead-copied@example.com", copied),
            .. Enumerable.Range(0, 4).Select(i => SendGridBounce("forged" + i.ToString(CultureInfo.InvariantCulture), $"dead{i}@example.com", EmailFeedbackTags.Write(new EmailSendAttribution { TenantId = "rival" }))),
        ];
        string batch = "[" + string.Join(',', events) + "]";

        // Act
        using HttpResponseMessage response = await _app.SendAsync(WebhookTestApp.SignedSendGridRequest(_sendGrid, _app.Time.GetUtcNow(), batch));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await BouncesAsync(EmailGuardDimension.Tenant, "rival")).Should().Be(1, "only the mail the guard signed for it");
        (await BouncesAsync(EmailGuardDimension.Global, null)).Should().Be(6);
        (await Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "dead3@example.com"))
            .Should().NotBeNull("a forged tag set names no party, but the bounce is still of a dead address");
        _app.LogsWithId(3162).Should().ContainSingle();
    }

    [Fact]
    public async Task Mailgun_UserVariablesChangedAfterSigning_NameNoOne_WhileGenuineOnesChargeTheirTenant()
    {
        // Arrange: the rogue's own signed variables, with the tenant swapped for the rival's.
        IReadOnlyDictionary<string, string> rivals = await SignedTagsAsync("rival");
        Dictionary<string, string> swapped = new(await SignedTagsAsync("rogue")) { ["eg_t"] = rivals["eg_t"] };

        // Act
        (await PostMailgunAsync("m-swapped", "dead-a@example.com", swapped)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostMailgunAsync("m-genuine", "dead-b@example.com", rivals)).StatusCode.Should().Be(HttpStatusCode.OK);

        // Assert
        (await BouncesAsync(EmailGuardDimension.Tenant, "rival")).Should().Be(1);
        (await BouncesAsync(EmailGuardDimension.Tenant, "rogue")).Should().Be(0);
        (await BouncesAsync(EmailGuardDimension.Global, null)).Should().Be(2);
    }

    private async Task<IReadOnlyDictionary<string, string>> SignedTagsAsync(string tenant)
    {
        EmailSendDecision decision = await Services.GetRequiredService<IEmailSendGuard>().CheckAsync(
            new OutboundEmail { To = ["customer@example.com"], TenantId = tenant, UserId = tenant + "-user", Category = "share" });
        decision.IsAllowed.Should().BeTrue();
        return EmailFeedbackTags.Write(decision.Attribution!);
    }

    private Task<HttpResponseMessage> PostMailgunAsync(string id, string recipient, IReadOnlyDictionary<string, string> variables)
        => _app.PostAsync("mailgun", MailgunSigner.Json(MailgunSigner.Sign(
            MailgunSigner.EventData("failed", recipient, severity: "permanent", userVariables: variables, id: id), _app.Time.GetUtcNow())));

    private static string SendGridBounce(string id, string email, IReadOnlyDictionary<string, string> customArgs)
    {
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $$"""{"email":"{{email}}","timestamp":1772409600,"event":"bounce","type":"bounce","sg_event_id":"{{id}}",""");
        json.Append(CultureInfo.InvariantCulture, $"\"sg_message_id\":\"X{id}.filterdrecv-1\"");
        foreach (KeyValuePair<string, string> tag in customArgs)
        {
            json.Append(CultureInfo.InvariantCulture, $",\"{tag.Key}\":\"{tag.Value}\"");
        }

        return json.Append('}').ToString();
    }

    private async Task<long> BouncesAsync(EmailGuardDimension dimension, string? partition)
        => (await Services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(dimension, partition)).Bounces;
}
