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
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(100)),
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddEmailGuard().AddGuardedEmailSender();
            });
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

    private sealed class RecordingTransport : IEmailTransport
    {
        public IReadOnlyDictionary<string, string>? LastTags { get; private set; }

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            LastTags = content.ProviderTags;
            return ValueTask.CompletedTask;
        }
    }
}
