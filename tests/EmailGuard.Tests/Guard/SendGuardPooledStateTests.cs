using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A check on a remote store runs on pooled state (its async methods' boxes, its scratch buffers, which a check on
/// another thread takes at once from the shared pool). A store that throws, synchronously or not, or a caller that
/// cancels, must leave every set handed back exactly once and never while the store may still write into it: each
/// other check, on any thread, still answers exactly its own store answer.
/// </summary>
public sealed class SendGuardPooledStateTests
{
    private const int Callers = 64;
    private const int ChecksEach = 32;
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Decides in memory, asynchronously, so the guard takes its remote-store path; a message's tenant says how the
    /// call goes wrong: "throwsnow" throws at once, "faultslater" faults later, "storecancels" is cancelled by the store itself.
    /// </summary>
    private sealed class MisbehavingStore(FakeTimeProvider time) : IRateLimitStore
    {
        private readonly InMemoryRateLimitStore _inner = new(new InMemoryRateLimitStoreOptions(), time);

        public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            string keys = string.Join(",", requests.ToArray().Select(r => r.Key));
            if (keys.Contains("throwsnow", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("The store threw at once.");
            }

            return new(DecideLaterAsync(requests, results, keys, cancellationToken));
        }

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => _inner.PeekAsync(requests, results, cancellationToken);

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => _inner.RefundAsync(requests, decision, cancellationToken);

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => _inner.ResetAsync(key, rule, cancellationToken);

        private async Task<RateLimitDecision> DecideLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, string keys, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (keys.Contains("faultslater", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("The store failed later.");
            }

            if (keys.Contains("storecancels", StringComparison.Ordinal))
            {
                throw new OperationCanceledException("The store's own call was cancelled.");
            }

            RateLimitDecision decision = await _inner.AcquireAsync(requests, results, cancellationToken);
            await Task.Yield();
            return decision;
        }
    }

    private static readonly string[] s_tenants = ["ok", "throwsnow", "faultslater", "storecancels", "caller"];

    private static OutboundEmail Message(int index) => new()
    {
        To = [.. Enumerable.Range(0, 1 + (index % 3)).Select(r => string.Create(CultureInfo.InvariantCulture, $"m{index}x{r}@d{index % 5}.example"))],
        Sender = "noreply@app.example",
        TenantId = s_tenants[index % s_tenants.Length],
    };

    [Theory]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.FailOpen)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task StoreThrowingOrCancelledOnSomeChecks_EveryOtherConcurrentCheckShowsItsOwnAnswer(StoreFailureMode mode)
    {
        // Arrange: a breaker that never opens, so every check reaches the store.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        MisbehavingStore store = new(time);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.FailureMode = mode;
                o.Global.Add(RateLimitRule.PerHour(RateLimitRule.MaxLimit));
                o.Tenant.Add(RateLimitRule.PerHour(1_000_000));
                o.Recipient.Add(RateLimitRule.PerHour(3));
            },
            time: time,
            more: s =>
            {
                s.AddSingleton<IRateLimitStore>(store);
                s.Configure<StoreResilienceOptions>(r =>
                {
                    r.ConsecutiveFailureThreshold = 10_000;
                    r.MinimumThroughput = 1_000_000;
                });
            });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        using CancellationTokenSource cancelled = new();
        await cancelled.CancelAsync();

        // Act: 64 callers at once, each checking in turn; the caller of tenant "caller" has cancelled already.
        ConcurrentBag<(int Index, OutboundEmail Message, EmailSendDecision? Decision, Exception? Error)> answers = [];
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (int i = c * ChecksEach; i < (c + 1) * ChecksEach; i++)
            {
                OutboundEmail message = Message(i);
                try
                {
                    answers.Add((i, message, await guard.CheckAsync(message, message.TenantId == "caller" ? cancelled.Token : default), null));
                }
                catch (Exception ex)
                {
                    answers.Add((i, message, null, ex));
                }
            }
        }))).WaitAsync(s_bound);

        // Assert: only the caller that cancelled sees an exception; a failing store gets the failure mode's answer.
        answers.Should().HaveCount(Callers * ChecksEach);
        answers.Where(a => a.Error is not null).Should().OnlyContain(a => a.Message.TenantId == "caller" && a.Error is OperationCanceledException);
        EmailSendReason failed = mode switch
        {
            StoreFailureMode.FailClosed => EmailSendReason.StoreUnavailable,
            StoreFailureMode.FailOpen => EmailSendReason.AllowedUnguarded,
            _ => EmailSendReason.Allowed,
        };
        answers.Where(a => a.Message.TenantId is "throwsnow" or "faultslater" or "storecancels").Should().OnlyContain(a => a.Decision!.Value.Reason == failed);

        // Each admission the store decided shows its own recipients and tenant, and a global count no other saw.
        (int Index, OutboundEmail Message, EmailSendDecision? Decision, Exception? Error)[] decided = [.. answers.Where(a => a.Message.TenantId == "ok")];
        decided.Should().HaveCount(Enumerable.Range(0, Callers * ChecksEach).Count(i => i % s_tenants.Length == 0));
        List<long> globalCounts = [];
        foreach ((int index, OutboundEmail message, EmailSendDecision? decision, _) in decided)
        {
            decision!.Value.Reason.Should().Be(EmailSendReason.Allowed);
            EmailSendRuleUsage[] usage = decision.Value.Usage.ToArray();
            usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => (u.Partition, u.Count))
                .Should().BeEquivalentTo(message.To.Select(to => ((string?)to, 1L)), "check {0} shows its own recipients", index);
            usage.Single(u => u.Dimension == EmailGuardDimension.Tenant).Partition.Should().Be("ok");
            EmailSendRuleUsage global = usage.Single(u => u.Dimension == EmailGuardDimension.Global);
            global.Cost.Should().Be(message.To.Count, "check {0}", index);
            globalCounts.Add(global.Count);
        }

        globalCounts.Should().OnlyHaveUniqueItems("each admission saw the global counter after its own permits");
    }
}
