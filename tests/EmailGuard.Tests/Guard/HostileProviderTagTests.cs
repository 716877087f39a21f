using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The guarded sender drops app tags named like its own attribution tags. It used to merge its tags over the app's
/// <see cref="EmailContent.ProviderTags"/>, writing a tag only for the parts the message has (found by a hostile review). A message without a user (an API send, a scheduled report)
/// keeps an <c>eg_u</c> the app passed through from its customer (the tags or metadata an email API lets its callers
/// set), and the provider echoes it back in every bounce and complaint: the feedback is charged to whichever user,
/// client network or endpoint policy the sender named, whose ratio breaker then trips (a victim suspended) while the
/// real sender's stays clean.
/// </summary>
public sealed class HostileProviderTagTests
{
    [Fact]
    public async Task TrySend_AppTagsThatForgeEmailGuardsAttribution_AreNotEchoedToTheProvider()
    {
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        // The customer's own "metadata", passed through as provider tags: EmailGuard's tag names with a victim's values.
        IReadOnlyDictionary<string, string> forged = EmailFeedbackTags.Write(new EmailSendAttribution
        {
            UserId = "victim-user",
            ClientNetwork = "198.51.100.0/24",
            EndpointPolicy = "signup",
        });
        EmailContent content = new() { Subject = "Report", TextBody = "Numbers.", ProviderTags = forged };

        GuardedSendResult sent = await sender.TrySendAsync(new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" }, content);

        sent.Sent.Should().BeTrue();
        EmailFeedbackTags.TryRead(transport.LastTags, out EmailSendAttribution? echoed).Should().BeTrue();
        echoed!.TenantId.Should().Be("attacker");
        (echoed.UserId, echoed.ClientNetwork, echoed.EndpointPolicy).Should().Be(
            ((string?)null, (string?)null, (string?)null),
            "the provider echoes these tags in the bounce, and the breakers charge whatever they name");
    }

    [Fact]
    public async Task TrySend_AppHeadersThatSetProviderTagsUnderEmailGuardsNames_AreNotPassedToTheTransport()
    {
        // Arrange: the same forgery through the headers that set provider tags on a raw or SMTP send (SES message tags,
        // Mailgun variables, SendGrid's X-SMTPAPI, Postmark metadata), and a forged send id.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        string victim = EmailFeedbackTags.Write(new EmailSendAttribution { UserId = "victim-user" })["eg_u"];
        Dictionary<string, string> headers = new()
        {
            ["X-SES-MESSAGE-TAGS"] = $"campaign=spring, eg_u={victim}",
            ["X-Mailgun-Variables"] = $"{{\"eg_u\": \"{victim}\"}}",
            ["X-SMTPAPI"] = $"{{\"unique_args\": {{\"EG_U\": \"{victim}\"}}}}",
            ["X-PM-Metadata-eg_u"] = victim,
            ["x-emailguard-send-id"] = "forged-send-id",
            ["X-Campaign"] = "spring",
            ["List-Unsubscribe"] = "<https://app.example/unsubscribe?leg_id=7>",
        };
        EmailContent content = new() { Subject = "Report", TextBody = "Numbers.", Headers = headers };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" }, content);

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastHeaders.Should().NotBeNull();
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(
            [EmailFeedbackTags.SendIdHeader, "X-Campaign", "List-Unsubscribe"], "a header that names an EmailGuard tag would be echoed in the bounce like the tag itself");
        transport.LastHeaders[EmailFeedbackTags.SendIdHeader].Should().Be(sent.Decision.Attribution!.SendId, "the send id is EmailGuard's, not the app's");
    }

    [Fact]
    public async Task TrySend_AHeaderNamingAnyTagEmailGuardWrites_IsNotPassedToTheTransport()
    {
        // Every tag name Write produces, so that a tag added there is recognized in headers too (NamesPattern).
        IReadOnlyDictionary<string, string> all = EmailFeedbackTags.Write(new EmailSendAttribution
        {
            SendId = "s",
            TenantId = "t",
            UserId = "u",
            Sender = "a@example.com",
            Category = "c",
            ClientNetwork = "198.51.100.0/24",
            EndpointPolicy = "p",
        });
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        Dictionary<string, string> headers = all.Keys.ToDictionary(name => "X-Forged-" + name, name => $"{name.ToUpperInvariant()}=victim");
        headers["X-Campaign"] = "spring";

        await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        all.Should().HaveCount(7);
        transport.LastHeaders!.Keys.Should().BeEquivalentTo([EmailFeedbackTags.SendIdHeader, "X-Campaign"]);
    }

    [Fact]
    public async Task TrySend_AHeaderNamingATagThroughJsonEscapes_IsNotPassedToTheTransport()
    {
        // Arrange: the JSON headers (Mailgun's variables, SendGrid's X-SMTPAPI) are parsed by the provider, which reads
        // "\u0065g_u" as eg_u: the same forgery, spelled so that the tag's name never appears in the header as written.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        string victim = EmailFeedbackTags.Write(new EmailSendAttribution { UserId = "victim-user" })["eg_u"];
        Dictionary<string, string> headers = new()
        {
            ["X-Mailgun-Variables"] = $"{{\"\\u0065g_u\": \"{victim}\"}}",
            ["X-SMTPAPI"] = $"{{\"unique_args\": {{\"eg\\u005Fu\": \"{victim}\"}}}}",
            ["X-Forged"] = $"{{\"\\u0045\\u0047\\u005F\\u0055\": \"{victim}\"}}",
            ["X-Campaign"] = "{\"name\": \"spring \\u00e9t\\u00e9\"}",
        };

        // Act
        await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        // Assert
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(
            [EmailFeedbackTags.SendIdHeader, "X-Campaign"], "the provider decodes the escapes and would echo eg_u in the bounce, charged to the victim");
    }

    [Fact]
    public async Task TrySend_AppHeadersThatAddRecipients_AreNotPassedToTheTransport()
    {
        // Arrange: the guard counted one recipient, the envelope's. A transport that copies the app's headers into the
        // message would also mail whoever these name: an SMTP client (MailKit) and SES's raw send take the recipients
        // from the To, Cc, Bcc and Resent-* headers, and SendGrid's SMTP API sends to every address of X-SMTPAPI's "to".
        // A customer whose headers the app passes through sent a thousand mails for the price of one.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        string many = string.Join(", ", Enumerable.Range(0, 1_000).Select(i => $"target{i}@example.com"));
        Dictionary<string, string> headers = new()
        {
            ["Bcc"] = many,
            ["cc"] = "target@example.com",
            ["TO"] = "target@example.com",
            ["Resent-To"] = "target@example.com",
            ["Resent-Cc"] = "target@example.com",
            ["resent-bcc"] = many,
            ["X-SMTPAPI"] = "{\"category\": \"report\", \"\\u0074o\": [\"target1@example.com\", \"target2@example.com\"]}",
            ["X-Campaign"] = "spring",
            ["Reply-To"] = "support@app.example",
            ["X-Mailer-To"] = "not a recipient header",
        };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(
            [EmailFeedbackTags.SendIdHeader, "X-Campaign", "Reply-To", "X-Mailer-To"], "the envelope's recipients are the ones the guard counted, and the only ones");
    }

    [Fact]
    public async Task TrySend_AnSmtpApiHeaderWithoutRecipients_IsPassedToTheTransport()
    {
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        const string smtpApi = "{\"category\": [\"report\"], \"asm_group_id\": 42, \"unique_args\": {\"customer\": \"to-do\"}}";

        await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "acme" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = new Dictionary<string, string> { ["X-SMTPAPI"] = smtpApi } });

        transport.LastHeaders!["X-SMTPAPI"].Should().Be(smtpApi, "categories and unsubscribe groups name no one to send to");
    }

    [Fact]
    public async Task TrySend_AppTagsNamedLikeSendGridEventFields_AreNotPassedToTheTransport()
    {
        // Arrange: SendGrid echoes custom args (and X-SMTPAPI unique args) as top-level keys of each event, beside its own
        // fields. A customer whose tags the app passes through names one like a field: "email" makes the bounce of a
        // dead address suppress a victim's, "event" turns the customer's own bounces into clicks, a constant
        // "sg_event_id" deduplicates them all into one (found by h58's hostile review).
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        Dictionary<string, string> tags = new()
        {
            ["email"] = "victim@example.com",
            ["EVENT"] = "click",
            [" sg_event_id"] = "same-for-every-bounce",
            ["type"] = "blocked",
            ["timestamp"] = "1",
            ["Reason"] = "Bounced Address",
            ["Bounce_Classification"] = "Content",
            ["campaign"] = "spring",
        };
        Dictionary<string, string> headers = new()
        {
            ["X-SMTPAPI"] = "{\"unique_args\": {\"\\u0065mail\": \"victim@example.com\"}}",
            ["X-Campaign"] = "spring",
        };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["dead-address@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", ProviderTags = tags, Headers = headers });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastTags!.Keys.Where(k => !k.StartsWith(EmailFeedbackTags.Prefix, StringComparison.Ordinal)).Should().Equal(["campaign"]);
        transport.LastHeaders!.Keys.Should().BeEquivalentTo([EmailFeedbackTags.SendIdHeader, "X-Campaign"]);
    }

    [Fact]
    public async Task TrySend_AnXSmtpApiUniqueArgNamedReason_IsNotPassedToTheTransport()
    {
        // Arrange: a dropped event's "reason" decides whether the drop suppresses its recipient; a unique arg of that name
        // is echoed beside it (see TrySend_AppTagsNamedLikeSendGridEventFields_AreNotPassedToTheTransport).
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        // Act
        await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = new Dictionary<string, string> { ["X-SMTPAPI"] = "{\"unique_args\": {\"reason\": \"Bounced Address\"}}" } });

        // Assert
        transport.LastHeaders!.Keys.Should().BeEquivalentTo([EmailFeedbackTags.SendIdHeader]);
    }

    [Fact]
    public async Task TrySend_AppHeadersThatRouteFeedbackElsewhere_AreNotPassedToTheTransport()
    {
        // Arrange: SES sends a message's events to its configuration set's destinations (and message tags reach only
        // those), Postmark to its message stream's webhooks. A customer whose headers the app passes through names a set
        // or stream without EmailGuard's webhook: none of its bounces reach the breakers, and it is never suspended while
        // the account's bounce rate at the provider climbs (found by h58's hostile review).
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        Dictionary<string, string> headers = new()
        {
            ["X-SES-CONFIGURATION-SET"] = "no-feedback",
            [" x-pm-message-stream"] = "broadcast-without-webhooks",
            ["X-Campaign"] = "spring",
        };

        // Act
        await sender.TrySendAsync(
            new OutboundEmail { To = ["dead-address@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        // Assert
        transport.LastHeaders!.Keys.Should().BeEquivalentTo([EmailFeedbackTags.SendIdHeader, "X-Campaign"]);
    }

    [Fact]
    public async Task TrySend_AppHeadersThatWriteMoreThanOneHeader_AreNotPassedToTheTransport()
    {
        // Arrange: the checks above read a header's name. A transport that writes headers as text (a raw MIME message
        // for SES's raw send, an SMTP client of the app's own) writes a line break in a value as the end of the header,
        // and what follows as a header of the customer's choosing: a Bcc of a thousand uncounted recipients, or a
        // configuration set without EmailGuard's webhook. A name with a colon writes its value after one more colon
        // ("Bcc:: ..."), which lenient readers take as a Bcc header.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        string many = string.Join(", ", Enumerable.Range(0, 1_000).Select(i => $"target{i}@example.com"));
        Dictionary<string, string> headers = new()
        {
            ["X-Campaign"] = "spring\r\nBcc: " + many,
            ["X-Ref"] = "42\nX-SES-CONFIGURATION-SET: no-feedback",
            ["X-Note"] = "a\rResent-Bcc: " + many,
            ["X-Nul"] = "a\0b",
            ["Bcc:"] = many,
            ["X-Trace\r\nBcc"] = many,
            ["X-Tab\tName"] = "x",
            ["X-Keep"] = "fine",
            ["Reply-To"] = "support@app.example",
        };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(
            [EmailFeedbackTags.SendIdHeader, "X-Keep", "Reply-To"], "a header is one name and one line; anything more is a header the guard did not check");
    }

    [Fact]
    public async Task TrySend_ASubjectWithLineBreaks_ReachesTheTransportOnOneLine()
    {
        // Arrange: the subject is a header too. A customer's subject (a share's title, an invoice's name) with a line break
        // in it ends the Subject header in a transport that writes headers as text, and writes the rest as headers of
        // the customer's choosing: the Bcc that the header checks drop by name, or a configuration set without webhook.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        string many = string.Join(", ", Enumerable.Range(0, 1_000).Select(i => $"target{i}@example.com"));

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Invoice 42\r\nBcc: " + many + "\nX-SES-CONFIGURATION-SET: no-feedback\r\0", TextBody = "Numbers." });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastSubject.Should().Be("Invoice 42 Bcc: " + many + " X-SES-CONFIGURATION-SET: no-feedback  ", "a subject is one line of text, whatever the customer typed into it");
    }

    [Fact]
    public async Task TrySend_AppHeadersThatNameAnotherSender_AreNotPassedToTheTransport()
    {
        // Arrange: the guard screened and counted the envelope's sender: its blocklist entry, its flags, its caps, the
        // ratio breaker its bounces are charged to. A customer whose headers the app passes through names another From
        // (a sender the operator blocklisted for phishing), which an SMTP client (MailKit) and SES's raw send write as
        // the message's From.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        Dictionary<string, string> headers = new()
        {
            ["From"] = "Billing <billing@lookalike-bank.example>",
            [" sender"] = "billing@lookalike-bank.example",
            ["Resent-From"] = "billing@lookalike-bank.example",
            ["RESENT-SENDER"] = "billing@lookalike-bank.example",
            ["Reply-To"] = "support@app.example",
            ["X-Original-From"] = "kept: names no sender a mailer uses",
        };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], Sender = "noreply@app.example", TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers.", Headers = headers });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(
            [EmailFeedbackTags.SendIdHeader, "Reply-To", "X-Original-From"], "the envelope's sender is the one the guard screened, and the only one");
    }

    [Fact]
    public async Task TrySend_AddressesWithLineBreaksAround_ReachTheTransportTrimmed()
    {
        // Arrange: the guard trims white space around an address, CR and LF included, and counts what is left. A transport
        // that writes headers as text writes "To: someone@example.com\r\n" and then the line break of the header itself:
        // an empty line, which ends the headers, so the send id and tag headers after it are body text, and the bounce
        // comes back charged to no tenant.
        RecordingTransport transport = new();
        await using ServiceProvider sp = BuildSender(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com\r\n"], Cc = ["\nother@example.com"], Bcc = ["third@example.com"], Sender = "noreply@app.example\r\n", TenantId = "attacker" },
            new EmailContent { Subject = "Report", TextBody = "Numbers." });

        // Assert
        sent.Sent.Should().BeTrue();
        OutboundEmail envelope = transport.LastEnvelope!;
        (envelope.To.Single(), envelope.Cc.Single(), envelope.Bcc.Single(), envelope.Sender).Should().Be(
            ("someone@example.com", "other@example.com", "third@example.com", "noreply@app.example"), "the transport mails the addresses the guard counted");
        envelope.TenantId.Should().Be("attacker");
    }

    [Fact]
    public async Task TrySend_AdmittedWithoutAnAttribution_TheAppsHeadersAreScreenedAllTheSame()
    {
        // Arrange: a guard that admits without an attribution (one of the app's own) gives the sender no EmailGuard tags
        // to add; the app's headers and subject still go through the same screening, whose holes are as uncounted then.
        RecordingTransport transport = new();
        GuardedEmailSender sender = new(new AdmitsWithoutAttribution(), transport);
        string many = string.Join(", ", Enumerable.Range(0, 1_000).Select(i => $"target{i}@example.com"));
        Dictionary<string, string> headers = new()
        {
            ["X-Campaign"] = "spring\r\nBcc: " + many,
            ["Bcc"] = many,
            ["From"] = "blocked@app.example",
            ["X-Keep"] = "fine",
        };
        Dictionary<string, string> tags = new() { ["eg_t"] = "rival", ["campaign"] = "spring" };

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(
            new OutboundEmail { To = ["someone@example.com"], TenantId = "attacker" },
            new EmailContent { Subject = "Invoice 42\r\nBcc: " + many, TextBody = "Numbers.", Headers = headers, ProviderTags = tags });

        // Assert
        sent.Sent.Should().BeTrue();
        transport.LastHeaders!.Keys.Should().BeEquivalentTo(["X-Keep"]);
        transport.LastSubject.Should().Be("Invoice 42 Bcc: " + many);
        transport.LastTags!.Keys.Should().BeEquivalentTo(["campaign"], "a tag named like EmailGuard's would charge the mail's bounces to whoever it names");
    }

    private sealed class AdmitsWithoutAttribution : IEmailSendGuard
    {
        public ValueTask<EmailSendDecision> CheckAsync(OutboundEmail message, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(new EmailSendDecision(EmailSendReason.Allowed, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, DateTimeOffset.UnixEpoch, null));

        public ValueTask<EmailSendDecision> PeekAsync(OutboundEmail message, CancellationToken cancellationToken = default) => CheckAsync(message, cancellationToken);

        public ValueTask<bool> RefundAsync(EmailSendDecision decision, CancellationToken cancellationToken = default) => ValueTask.FromResult(false);

        public ValueTask<EmailGuardStatus> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }

    private sealed class RecordingTransport : IEmailTransport
    {
        public IReadOnlyDictionary<string, string>? LastTags { get; private set; }

        public IReadOnlyDictionary<string, string>? LastHeaders { get; private set; }

        public string? LastSubject { get; private set; }

        public OutboundEmail? LastEnvelope { get; private set; }

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            LastTags = content.ProviderTags;
            LastHeaders = content.Headers;
            LastSubject = content.Subject;
            LastEnvelope = envelope;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A guarded sender over <paramref name="transport"/>, with a tenant cap out of reach.</summary>
    private static ServiceProvider BuildSender(RecordingTransport transport) => SendGuardTestServices.Build(
        o => o.Tenant.Add(RateLimitRule.PerHour(100)),
        more: s =>
        {
            s.AddSingleton<IEmailTransport>(transport);
            s.AddEmailGuard().AddGuardedEmailSender();
        });
}
