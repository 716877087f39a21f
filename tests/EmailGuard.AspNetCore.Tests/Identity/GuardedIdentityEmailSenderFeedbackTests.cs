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

    [Fact]
    public async Task Confirmation_InnerSenderNamesAnInvalidProviderAfterSending_DoesNotThrow_StaysCounted_FeedbackFindsTheUser()
    {
        // The app's sender handed the mail over, then named its provider with a value that is not a provider name: the
        // setter threw, the Identity sender gave the permit back and rethrew, for a mail that was sent.
        ContextReadingSender inner = new() { Provider = "Amazon SES" };
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 5, 0, TimeSpan.Zero)));
        services.AddSingleton<IEmailSender<TestUser>>(inner);
        services.AddEmailGuard().AddSendGuard(o => o.User.Add(RateLimitRule.PerHour(1)));
        services.AddEmailGuardIdentitySender<TestUser>(o =>
        {
            o.UserId = u => u.Id;
            o.ThrowOnDenied = true;
        });
        await using ServiceProvider sp = services.BuildServiceProvider();
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        Func<Task> first = () => sender.SendConfirmationLinkAsync(new TestUser("u-7"), "new@example.com", "https://app.example/confirm");
        await first.Should().NotThrowAsync();
        Func<Task> second = () => sender.SendConfirmationLinkAsync(new TestUser("u-7"), "new@example.com", "https://app.example/confirm");
        (await second.Should().ThrowAsync<EmailSendDeniedException>("the sent mail kept its permit")).Which.Decision.Dimension.Should().Be(EmailGuardDimension.User);
        EmailFeedbackResult result = await sp.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "e1",
            ProviderMessageId = "identity-msg-1",
            Recipient = "new@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        });

        result.Attribution!.UserId.Should().Be("u-7", "the id is mapped for every provider's feedback");
    }

    private sealed class ContextReadingSender : IEmailSender<TestUser>
    {
        public IReadOnlyDictionary<string, string>? Tags { get; private set; }

        public string? Provider { get; init; }

        public Task SendConfirmationLinkAsync(TestUser user, string email, string confirmationLink)
        {
            EmailSendContext context = EmailSendContext.Current!;
            Tags = context.ProviderTags;
            context.ProviderMessageId = "identity-msg-1";
            if (Provider is not null)
            {
                context.Provider = Provider;
            }

            return Task.CompletedTask;
        }

        public Task SendPasswordResetLinkAsync(TestUser user, string email, string resetLink) => Task.CompletedTask;

        public Task SendPasswordResetCodeAsync(TestUser user, string email, string resetCode) => Task.CompletedTask;
    }
}
