using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The guarded sender refunds when the transport throws, but not when it was cancelled: the provider may already have
/// the message. An endpoint that passes its request's abort token (a minimal API's <see cref="CancellationToken"/>
/// parameter) would otherwise let a client choose a refund by closing the connection while the transport waits for the
/// provider's answer: the mail goes out and its permits come back (found by a hostile review).
/// </summary>
public sealed class HostileRefundTests
{
    private static readonly EmailContent Content = new() { Subject = "Your purchase order", TextBody = "Attached." };

    private static OutboundEmail Mail => new() { To = ["victim@example.com"], TenantId = "acme", UserId = "u1" };

    /// <summary>
    /// The attacker's request: the endpoint passes its abort token, and the client drops the connection once the provider
    /// has the message (the transport is waiting for the provider's HTTP answer). With <paramref name="wrapFailures"/>
    /// the app's transport wraps every failure in an exception of its own, as many do around MailKit or an HTTP client,
    /// so the cancellation reaches the guarded sender as an ordinary failure.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TrySend_CallerCancelsAfterTheProviderTookTheMessage_PermitsStaySpent(bool wrapFailures)
    {
        HandOffTransport transport = new() { WrapFailures = wrapFailures };
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1));
                o.Recipient.Add(RateLimitRule.PerHour(1));
            },
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddEmailGuard().AddGuardedEmailSender();
            });
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        int failed = 0;
        List<GuardedSendResult> refused = [];
        for (int attempt = 0; attempt < 10; attempt++)
        {
            using CancellationTokenSource aborted = new();
            transport.OnHandedOff = aborted.Cancel;
            try
            {
                refused.Add(await sender.TrySendAsync(Mail, Content, aborted.Token));
            }
            catch (Exception ex) when (wrapFailures ? ex is InvalidOperationException : ex is OperationCanceledException)
            {
                failed++;
            }
        }

        transport.Delivered.Count.Should().Be(
            1, "the provider delivered every message whose caller went away, so each must stay counted against the 1/hour caps");
        failed.Should().Be(1, "only the first send reached the provider");
        refused.Should().HaveCount(9).And.OnlyContain(r => !r.Sent && r.Decision.Reason == EmailSendReason.LimitExceeded);
    }

    /// <summary>A transport whose provider accepts the message, then waits for the provider's answer on the caller's token.</summary>
    private sealed class HandOffTransport : IEmailTransport
    {
        public List<OutboundEmail> Delivered { get; } = [];

        public Action? OnHandedOff { get; set; }

        /// <summary>Whether every failure, the cancellation too, is thrown as an exception of the transport's own.</summary>
        public bool WrapFailures { get; init; }

        public async ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Delivered.Add(envelope);
            OnHandedOff?.Invoke();
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (WrapFailures)
            {
                throw new InvalidOperationException("The mail could not be sent: " + ex.Message, ex);
            }
        }
    }
}
