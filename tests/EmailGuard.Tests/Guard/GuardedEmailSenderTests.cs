using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

public sealed class GuardedEmailSenderTests
{
    private static readonly EmailContent Content = new() { Subject = "Your purchase order", TextBody = "Attached." };

    private static OutboundEmail Mail => new() { To = ["customer@example.com"], TenantId = "acme" };

    private static ServiceProvider Build(FakeTransport transport) => SendGuardTestServices.Build(
        o => o.Tenant.Add(RateLimitRule.PerHour(1)),
        more: s =>
        {
            s.AddSingleton<IEmailTransport>(transport);
            s.AddEmailGuard().AddGuardedEmailSender();
        });

    [Fact]
    public async Task TrySend_AllowedThenDenied_SendsOnceAndReturnsTheDenial()
    {
        FakeTransport transport = new();
        await using ServiceProvider sp = Build(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult first = await sender.TrySendAsync(Mail, Content);
        GuardedSendResult second = await sender.TrySendAsync(Mail, Content);

        first.Sent.Should().BeTrue();
        second.Sent.Should().BeFalse();
        second.Decision.Reason.Should().Be(EmailSendReason.LimitExceeded);
        second.Decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
        transport.Sent.Should().ContainSingle();
    }

    [Fact]
    public async Task Send_Denied_ThrowsEmailSendDeniedExceptionWithTheDecision()
    {
        FakeTransport transport = new();
        await using ServiceProvider sp = Build(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        await sender.SendAsync(Mail, Content);

        Func<Task> send = () => sender.SendAsync(Mail, Content).AsTask();

        (await send.Should().ThrowAsync<EmailSendDeniedException>()).Which.Decision.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero);
        transport.Sent.Should().ContainSingle();
    }

    [Fact]
    public async Task Send_TransportThrows_PermitsAreRefunded()
    {
        FakeTransport transport = new() { Failure = new InvalidOperationException("SES refused the message") };
        await using ServiceProvider sp = Build(transport);
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        Func<Task> send = () => sender.SendAsync(Mail, Content).AsTask();

        await send.Should().ThrowAsync<InvalidOperationException>();
        transport.Failure = null;
        (await sender.TrySendAsync(Mail, Content)).Sent.Should().BeTrue("the failed send gave its permit back");
    }

    [Fact]
    public async Task TrySend_PassesTheContentToTheContentRulesAndTheInspector()
    {
        FakeTransport transport = new();
        EmailGuard.Tests.Content.FakeContentInspector inspector = EmailGuard.Tests.Content.FakeContentInspector.Answering(EmailContentVerdict.Allow);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Content.Add(RateLimitRule.PerHour(2)),
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddSingleton<IEmailContentInspector>(inspector);
                s.AddEmailGuard().AddGuardedEmailSender();
            });
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        OutboundEmail To(string recipient) => new() { To = [recipient], TenantId = "acme", UserId = "u1" };

        GuardedSendResult first = await sender.TrySendAsync(To("a@example.com"), Content);
        GuardedSendResult second = await sender.TrySendAsync(To("b@example.com"), new EmailContent { Subject = "YOUR PURCHASE ORDER", TextBody = "attached" });
        GuardedSendResult third = await sender.TrySendAsync(To("c@example.com"), Content);

        first.Sent.Should().BeTrue();
        second.Sent.Should().BeTrue();
        third.Sent.Should().BeFalse();
        third.Decision.Dimension.Should().Be(EmailGuardDimension.Content);
        inspector.Calls.Should().HaveCount(2);
        inspector.Calls[0].Content.Should().BeSameAs(Content);
        inspector.Calls[0].Message.UserId.Should().Be("u1");
        transport.Sent.Should().HaveCount(2).And.OnlyContain(e => e.Content == null, "the transport gets the app's own envelope");
    }

    [Fact]
    public async Task TrySend_EnvelopeCarryingOtherContent_TheRulesAndTheInspectorJudgeTheContentSent()
    {
        // Arrange: the envelope names a harmless content of its own, different each time, while the content handed to
        // the transport is the same bulk mail. The guard fingerprinted and inspected the envelope's, so the content rule
        // never counted what went out, and the inspector never saw it.
        FakeTransport transport = new();
        EmailGuard.Tests.Content.FakeContentInspector inspector = EmailGuard.Tests.Content.FakeContentInspector.Answering(EmailContentVerdict.Allow);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Content.Add(RateLimitRule.PerHour(2)),
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddSingleton<IEmailContentInspector>(inspector);
                s.AddEmailGuard().AddGuardedEmailSender();
            });
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        EmailContent bulk = new() { Subject = "You won", TextBody = "Claim your prize at https://prize.example." };
        OutboundEmail To(int i) => new()
        {
            To = [$"r{i}@example.com"],
            TenantId = "acme",
            Content = new EmailContent { Subject = $"Invoice {i}", TextBody = $"Order {i} is attached, {new string('x', i)}." },
        };

        // Act
        List<GuardedSendResult> results = [];
        for (int i = 0; i < 3; i++)
        {
            results.Add(await sender.TrySendAsync(To(i), bulk));
        }

        // Assert
        results.Select(r => r.Sent).Should().Equal(true, true, false);
        results[2].Decision.Dimension.Should().Be(EmailGuardDimension.Content);
        inspector.Calls.Should().HaveCount(2).And.OnlyContain(c => ReferenceEquals(c.Content, bulk), "the inspector judges what the transport sends");
        transport.Sent.Should().HaveCount(2);
    }

    [Fact]
    public async Task TrySend_InspectorDenies_NothingIsSentAndNothingCounted()
    {
        FakeTransport transport = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(1)),
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddSingleton<IEmailContentInspector>(EmailGuard.Tests.Content.FakeContentInspector.Answering(EmailContentVerdict.Deny("phishing")));
                s.AddEmailGuard().AddGuardedEmailSender();
            });
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult result = await sender.TrySendAsync(Mail, Content);

        result.Sent.Should().BeFalse();
        result.Decision.Reason.Should().Be(EmailSendReason.ContentRejected);
        transport.Sent.Should().BeEmpty();
        EmailGuardStatus status = await sp.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });
        status.Usage.Single(u => u.Dimension == EmailGuardDimension.Tenant).Count.Should().Be(0);
    }

    [Fact]
    public async Task AddGuardedEmailSender_WithoutTransport_ExplainsWhatToRegister()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(more: s => s.AddEmailGuard().AddGuardedEmailSender());

        Action resolve = () => sp.GetRequiredService<IGuardedEmailSender>();

        resolve.Should().Throw<InvalidOperationException>().WithMessage("*IEmailTransport*");
    }

    private sealed class FakeTransport : IEmailTransport
    {
        public List<OutboundEmail> Sent { get; } = [];

        public Exception? Failure { get; set; }

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            if (Failure is { } failure)
            {
                return ValueTask.FromException(failure);
            }

            Sent.Add(envelope);
            return ValueTask.CompletedTask;
        }
    }
}
