using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using TestUser = EmailGuard.AspNetCore.Tests.Identity.GuardedIdentityEmailSenderTests.TestUser;

namespace EmailGuard.AspNetCore.Tests.Identity;

/// <summary>The Identity sender attaches attribution without app code: the app's sender finds it in the ambient send context.</summary>
public sealed class GuardedIdentityEmailSenderFeedbackTests
{
    [Fact]
    public async Task Confirmation_InnerSenderSeesTheTagsAndReportsTheProviderId_FeedbackFindsTheUser()
    {
        ContextReadingSender inner = new();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 5, 0, TimeSpan.Zero)));
        services.AddSingleton<IEmailSender<TestUser>>(inner);
        services.AddEmailGuard().AddSendGuard();
        services.AddEmailGuardIdentitySender<TestUser>(o => o.UserId = u => u.Id);
        await using ServiceProvider sp = services.BuildServiceProvider();

        await sp.GetRequiredService<IEmailSender<TestUser>>().SendConfirmationLinkAsync(new TestUser("u-7"), "new@example.com", "https://app.example/confirm");
        EmailFeedbackResult result = await sp.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "e1",
            ProviderMessageId = "identity-msg-1",
            Recipient = "new@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        });

        EmailFeedbackTags.TryRead(inner.Tags, out EmailSendAttribution? echoed).Should().BeTrue();
        echoed!.UserId.Should().Be("u-7");
        echoed.Category.Should().Be("identity-confirmation");
        result.Attribution!.UserId.Should().Be("u-7");
        result.Attribution.SendId.Should().Be(echoed.SendId);
        EmailSendContext.Current.Should().BeNull();
    }

    private sealed class ContextReadingSender : IEmailSender<TestUser>
    {
        public IReadOnlyDictionary<string, string>? Tags { get; private set; }

        public Task SendConfirmationLinkAsync(TestUser user, string email, string confirmationLink)
        {
            EmailSendContext context = EmailSendContext.Current!;
            Tags = context.ProviderTags;
            context.ProviderMessageId = "identity-msg-1";
            return Task.CompletedTask;
        }

        public Task SendPasswordResetLinkAsync(TestUser user, string email, string resetLink) => Task.CompletedTask;

        public Task SendPasswordResetCodeAsync(TestUser user, string email, string resetCode) => Task.CompletedTask;
    }
}
