using System.Diagnostics;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// A check on a Redis that hangs (<c>SIGSTOP</c>) before its lists were ever loaded, with a tenant limit provider that
/// hangs too, fair share and the fan-out step on: every store wait of the check shares one timeout and the provider
/// (the app's database, not a store) waits one of its own once, so the check is answered by its failure mode in about
/// two timeouts. Each wait with a timeout of its own took seven (14 s at 2 s).
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisHungCheckBudgetTests(RedisServerFixture redis, ITestOutputHelper output)
{
    /// <summary>
    /// Long enough that a loaded machine's own delays cannot take a check of about two timeouts past the bound of four:
    /// at 500 ms that left a margin of one second, which the scheduling of a shared two-core machine can eat; at 2 s it
    /// is four, while seven timeouts (each wait its own) still overshoot the bound by six.
    /// </summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(2);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    [Theory]
    [InlineData(StoreFailureMode.LocalFallback, EmailSendReason.Allowed)]
    [InlineData(StoreFailureMode.FailOpen, EmailSendReason.AllowedUnguarded)]
    public async Task CheckAsync_RedisAndTenantProviderHang_AnsweredByTheFailureModeWithinFourTimeouts(StoreFailureMode mode, EmailSendReason expected)
    {
        // Arrange
        if (!redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS there is no process of ours to freeze.
        }

        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(TimeProvider.System);
        services.AddSingleton<ITenantLimitProvider>(new HangingTenantLimitProvider());
        services.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
        services.AddEmailGuard()
            .AddSendGuard(o =>
            {
                o.FailureMode = mode;
                o.Global.Add(RateLimitRule.PerHour(10_000));
                o.Tenant.Add(RateLimitRule.PerHour(100));
                o.Recipient.Add(RateLimitRule.PerHour(10));
                o.FairShare.Enabled = true;
                o.FanOut.NewRecipients = 1;
            })
            .AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = _prefix;
            });
        await using ServiceProvider sp = services.BuildServiceProvider();
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // The connection is up, and the lists were never loaded (no host started, no check yet). The store connects
        // lazily, and a loaded machine can stretch that first call past the timeout: wait until Redis answers.
        await ResilientStoreWaits.ConnectedAsync(sp.GetRequiredService<ResilientRateLimitStore>());

        // Act
        redis.Freeze();
        EmailSendDecision decision;
        TimeSpan took;
        try
        {
            long started = Stopwatch.GetTimestamp();
            decision = await guard.CheckAsync(new OutboundEmail { To = ["a@example.com", "b@example.com"], TenantId = "acme", UserId = "u-1" })
                .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            took = Stopwatch.GetElapsedTime(started);
        }
        finally
        {
            redis.Thaw();
        }

        // Assert
        output.WriteLine($"{mode}: {decision.Reason} after {took.TotalMilliseconds:0} ms (timeout {s_timeout.TotalMilliseconds:0} ms)");
        decision.Reason.Should().Be(expected);
        took.Should().BeLessThan(4 * s_timeout, "the state, fair-share, counter and fan-out waits share one timeout, the provider waits one once (each its own took 7)");
    }

    private sealed class HangingTenantLimitProvider : ITenantLimitProvider
    {
        private readonly TaskCompletionSource<TenantLimits?> _never = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken) => new(_never.Task);
    }
}
