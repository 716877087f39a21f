using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The guard's pooled buffers against hostile app code: callbacks that throw, and app code that checks another
/// message from inside a check (a tenant limit provider called while the check holds its buffers, a limit handler
/// called after). Every decision must keep its own usage and refund exactly its own permits once, however it was copied.
/// </summary>
public sealed class SendGuardHostileCallbackTests
{
    private const int Callers = 64;
    private const int ChecksPerCaller = 150;

    [Fact]
    public async Task ThrowingAndReentrantCallbacks_64Callers_EveryDecisionKeepsItsOwnRecipients_AndRefundsItsOwnPermitsOnce()
    {
        // Arrange: every check names a tenant of its own, so the provider runs inside every check; every fourth check
        // goes to its caller's hot recipient, over its limit of 2 from the third on.
        NestingTenantProvider provider = new();
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        int nestedFromHandlers = 0;
        ConcurrentQueue<string> wrongNested = new();
        IEmailSendGuard? guardForHandlers = null;
        await using ServiceProvider sp = SendGuardTestServices.Build(
            time: time,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider),
            configure: o =>
            {
                o.Global.Add(RateLimitRule.PerHour(1_000_000));
                o.Tenant.Add(RateLimitRule.PerHour(1_000_000));
                o.User.Add(RateLimitRule.PerHour(1_000_000));
                o.Recipient.Add(RateLimitRule.PerHour(2));
                o.RecipientDomain.Add(RateLimitRule.PerHour(1_000_000));
                o.Events.OnChecked = _ => throw new InvalidOperationException("hostile OnChecked");
                o.Events.OnNearLimit = _ => ValueTask.FromException(new InvalidOperationException("hostile OnNearLimit"));
                o.Events.OnLimitExceeded = args =>
                {
                    // A handler that alerts by mail through the same guard, on the same thread, then throws.
                    string to = $"alert-{Interlocked.Increment(ref nestedFromHandlers)}@alerts.example";
                    ValueTask<EmailSendDecision> nested = guardForHandlers!.CheckAsync(OutboundEmail.ToRecipients(to));
                    string? seen = nested.Result.Usage.ToArray().FirstOrDefault(u => u.Dimension == EmailGuardDimension.Recipient).Partition;
                    if (seen != to)
                    {
                        wrongNested.Enqueue($"{to} saw {seen}");
                    }

                    throw new InvalidOperationException("hostile OnLimitExceeded");
                };
            });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        guardForHandlers = guard;
        provider.Guard = guard;

        // Act: 64 callers at once.
        ConcurrentQueue<(OutboundEmail Message, EmailSendDecision Decision)> kept = new();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            for (int i = 0; i < ChecksPerCaller; i++)
            {
                string to = i % 4 == 0 ? $"hot{caller}@d{caller % 5}.example" : $"r{caller}-{i}@d{i % 7}.example";
                OutboundEmail message = new() { To = [to], TenantId = $"t{caller}-{i}", UserId = $"u{caller}", Sender = "app@app.example" };
                kept.Enqueue((message, await guard.CheckAsync(message)));
            }
        })));

        // Assert: every decision, read after all the checks, names only its own message's parties.
        provider.WrongNested.Should().BeEmpty();
        wrongNested.Should().BeEmpty();
        provider.Nested.Should().Be(Callers * ChecksPerCaller, "the provider checked a message inside every check");
        kept.Should().HaveCount(Callers * ChecksPerCaller);
        kept.Count(k => k.Decision.Reason == EmailSendReason.LimitExceeded).Should().Be(Callers * (((ChecksPerCaller + 3) / 4) - 2));
        nestedFromHandlers.Should().Be(Callers * (((ChecksPerCaller + 3) / 4) - 2), "the limit handler checked a message at every denial");
        foreach ((OutboundEmail message, EmailSendDecision decision) in kept)
        {
            string to = message.To[0];
            EmailSendRuleUsage[] usage = decision.Usage.ToArray();
            usage.Should().HaveCount(5);
            usage.Single(u => u.Dimension == EmailGuardDimension.Recipient).Partition.Should().Be(to);
            usage.Single(u => u.Dimension == EmailGuardDimension.RecipientDomain).Partition.Should().Be(to[(to.IndexOf('@', StringComparison.Ordinal) + 1)..]);
            usage.Single(u => u.Dimension == EmailGuardDimension.Tenant).Partition.Should().Be(message.TenantId);
            usage.Single(u => u.Dimension == EmailGuardDimension.User).Partition.Should().Be(message.UserId);
            if (decision.Reason == EmailSendReason.LimitExceeded)
            {
                decision.Recipient.Should().Be(to);
            }
            else
            {
                decision.Reason.Should().Be(EmailSendReason.Allowed);
            }
        }

        // Every admitted decision refunded twice at once, through two copies: exactly one refund each.
        EmailSendDecision[] admitted = [.. kept.Select(k => k.Decision).Where(d => d.IsRefundable)];
        int refunded = 0;
        await Parallel.ForEachAsync(admitted, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (decision, _) =>
        {
            EmailSendDecision copy = decision;
            bool[] both = await Task.WhenAll(Task.Run(async () => await guard.RefundAsync(decision)), Task.Run(async () => await guard.RefundAsync(copy)));
            both.Count(b => b).Should().Be(1);
            Interlocked.Increment(ref refunded);
        });

        // The global counter holds exactly the checks that stayed admitted: the nested ones, and the next.
        EmailSendDecision last = await guard.CheckAsync(OutboundEmail.ToRecipients("last@d0.example"));
        long nested = nestedFromHandlers + provider.Nested;
        last.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Global).Count.Should().Be(nested + 1);
        refunded.Should().Be(admitted.Length);
    }

    /// <summary>A tenant limit provider that checks another message through the guard before it answers, while the outer check holds its buffers.</summary>
    private sealed class NestingTenantProvider : ITenantLimitProvider
    {
        private int _nested;

        public IEmailSendGuard? Guard { get; set; }

        public ConcurrentQueue<string> WrongNested { get; } = new();

        public int Nested => Volatile.Read(ref _nested);

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            if (!tenantId.StartsWith("nested", StringComparison.Ordinal))
            {
                string to = $"provider-{Interlocked.Increment(ref _nested)}@nested.example";
                ValueTask<EmailSendDecision> pending = Guard!.CheckAsync(new OutboundEmail { To = [to], TenantId = "nested-" + tenantId });
                string? seen = pending.Result.Usage.ToArray().FirstOrDefault(u => u.Dimension == EmailGuardDimension.Recipient).Partition;
                if (seen != to)
                {
                    WrongNested.Enqueue($"{to} saw {seen}");
                }
            }

            return ValueTask.FromResult<TenantLimits?>(null);
        }
    }
}
