using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// Plays the mail provider for the sample: mail to <c>@bounce.test</c> comes back as a permanent bounce and mail to
/// <c>@complaint.test</c> as a spam complaint, posted as a Mailgun webhook, signed with the development signing key,
/// to this app's own <c>/emailguard/feedback/mailgun</c> route. The feedback therefore takes the real path:
/// signature check, replay check, recording, suppression. Registered only when the Mailgun webhook is enabled
/// (appsettings.Development.json).
/// </summary>
public sealed partial class ProviderFeedbackSimulator(
    IServer server,
    IHttpClientFactory clients,
    IOptions<EmailGuardWebhookOptions> webhooks,
    Outbox outbox,
    TimeProvider time,
    ILogger<ProviderFeedbackSimulator> logger)
{
    /// <summary>Mail to this domain bounces permanently.</summary>
    public const string BounceDomain = "bounce.test";

    /// <summary>Mail to this domain draws a spam complaint.</summary>
    public const string ComplaintDomain = "complaint.test";

    /// <summary>Reports the mail's bounce or complaint, if its domain draws one, echoing the tags it was sent with.</summary>
    /// <param name="mail">The mail.</param>
    /// <param name="tags">EmailGuard's tags for the mail (<see cref="EmailFeedbackTags.Write"/>), as Mailgun echoes a mail's variables; null for none.</param>
    /// <param name="cancellationToken">Cancels the post.</param>
    public async Task ReportAsync(OutgoingMail mail, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken)
    {
        string domain = mail.To[(mail.To.LastIndexOf('@') + 1)..].ToLowerInvariant();
        (string type, string? severity, OutboxStatus status, string what) = domain switch
        {
            BounceDomain => ("failed", "permanent", OutboxStatus.Bounced, "a permanent bounce"),
            ComplaintDomain => ("complained", (string?)null, OutboxStatus.Complained, "a spam complaint"),
            _ => (string.Empty, null, OutboxStatus.Sent, string.Empty),
        };
        if (type.Length == 0 || OwnAddress() is not { } address)
        {
            return;
        }

        string body = SignedEvent(mail, tags, type, severity);
        using HttpClient client = clients.CreateClient(nameof(ProviderFeedbackSimulator));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        try
        {
            using HttpResponseMessage response = await client.PostAsync(new Uri(address, EmailGuardFeedbackEndpointRouteBuilderExtensions.DefaultPrefix + "/mailgun"), content, cancellationToken);
            int code = (int)response.StatusCode;
            outbox.Update(mail.Id, response.IsSuccessStatusCode ? status : OutboxStatus.Sent, response.IsSuccessStatusCode
                ? $"The simulated provider reported {what}; the feedback webhook answered {code}."
                : $"The simulated provider reported {what}, but the feedback webhook answered {code}.");
        }
        catch (HttpRequestException ex)
        {
            LogPostFailed(logger, ex, mail.Id);
        }
    }

    /// <summary>A Mailgun webhook body with Mailgun's field names, signed as Mailgun signs it.</summary>
    private string SignedEvent(OutgoingMail mail, IReadOnlyDictionary<string, string>? tags, string type, string? severity)
    {
        string timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(25));
        byte[] key = Encoding.UTF8.GetBytes(webhooks.Value.Mailgun.SigningKey ?? string.Empty);
        string signature = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(timestamp + token)));
        var data = new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString("N"),
            ["event"] = type,
            ["timestamp"] = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0,
            ["recipient"] = mail.To,
            ["message"] = new JsonObject { ["headers"] = new JsonObject { ["message-id"] = $"{mail.Id:N}@sample.emailguard.test" } },
            ["delivery-status"] = new JsonObject { ["code"] = 550, ["message"] = "5.1.1 simulated: mailbox does not exist" },
            ["user-variables"] = Variables(tags),
        };
        if (severity is not null)
        {
            data["severity"] = severity;
            data["reason"] = "bounce";
        }

        return new JsonObject
        {
            ["signature"] = new JsonObject { ["timestamp"] = timestamp, ["token"] = token, ["signature"] = signature },
            ["event-data"] = data,
        }.ToJsonString();
    }

    private static JsonObject Variables(IReadOnlyDictionary<string, string>? tags)
    {
        var variables = new JsonObject();
        foreach ((string name, string value) in tags ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        return variables;
    }

    /// <summary>Where this app listens, with a wildcard host turned into localhost.</summary>
    private Uri? OwnAddress()
    {
        string? address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null)
        {
            return null;
        }

        address = address.Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://*", "://localhost", StringComparison.Ordinal)
            .Replace("://[::]", "://localhost", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal);
        return Uri.TryCreate(address, UriKind.Absolute, out Uri? uri) ? uri : null;
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The simulated provider could not post feedback for mail {MailId}.")]
    private static partial void LogPostFailed(ILogger logger, Exception exception, Guid mailId);
}
