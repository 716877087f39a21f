using System.Globalization;
using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// A rogue with many trial tenants tries to send outside its pool's cap: by flooding the tenant limit cache, through a
/// slow first lookup, with messages to many recipients, with refunds.
/// </summary>
public sealed class TenantPoolEscapeTests
{
    private static readonly RateLimitRule s_trialOwn = RateLimitRule.PerHour(100);

    [Fact]
    public async Task FullLimitCache_NewTrialTenants_StillCountInTheirPool()
    {
        // Arrange: the provider puts trial-* tenants in the pool 'trial' (2 a day in all); the limit cache is full of
        // fresh answers (made-up tenants, or an app with that many active ones), so new tenants are looked up uncached.
        CountingTenantLimitProvider provider = new(t => t.StartsWith("trial-", StringComparison.Ordinal)
            ? new TenantLimits { Rules = [s_trialOwn], Pool = "trial" }
            : new TenantLimits { Rules = [] });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)),
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        TenantLimitCache cache = sp.GetRequiredService<EmailSendGuard>().TenantLimits;

        // The state's first load expires every cached answer (a whole load names no tenants): done before the flood.
        (await guard.CheckAsync(new OutboundEmail { To = ["first@example.com"], TenantId = "paying" })).IsAllowed.Should().BeTrue();
        for (int i = 0; i < TenantLimitCache.DefaultMaxTenants; i++)
        {
            await cache.GetAsync(string.Create(CultureInfo.InvariantCulture, $"flood-{i}"), [], default);
        }

        // Act: five new trial tenants send one mail each.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 5; i++)
        {
            decisions.Add(await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = $"trial-{i}" }));
        }

        // Assert
        provider.Calls("trial-0").Should().Be(1);
        decisions.Select(d => d.IsAllowed).Should().Equal([true, true, false, false, false], "the pool caps its tenants however full the cache is");
        decisions[2].Partition.Should().Be("pool:trial");
        decisions[0].Usage.ToArray().Should().Contain(u => u.Partition == "trial-0" && u.Limit == 100, "the uncached lookup's own rules applied too");
    }

    [Fact]
    public async Task SlowFirstLookup_TheCheckAtTheTimeoutIsInTheDefaultPool_AsItHasTheDefaultRules_ThenInItsOwnPool()
    {
        // Arrange: the provider has not answered for a new tenant yet; tenants without an answer are in 'noplan'.
        TaskCompletionSource<TenantLimits?> answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        TimeSpan timeout = TimeSpan.FromMilliseconds(250);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1));
                o.TenantPools["noplan"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(100));
                o.DefaultTenantPool = "noplan";
            },
            time: time,
            more: s =>
            {
                s.AddSingleton<ITenantLimitProvider>(new AnswerProvider(answer.Task));
                s.Configure<StoreResilienceOptions>(o => o.Timeout = timeout);
            });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        TenantLimitCache cache = sp.GetRequiredService<EmailSendGuard>().TenantLimits;

        // Act: a check waits the timeout; then the answer (trial) comes, and the next checks use it.
        Task<EmailSendDecision> waiting = guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "new" }).AsTask();
        time.Advance(timeout);
        EmailSendDecision atTimeout = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        answer.SetResult(new TenantLimits { Rules = [s_trialOwn], Pool = "trial" });
        while (!cache.GetAsync("new", [], default).IsCompleted)
        {
            await Task.Yield();
        }

        EmailSendDecision answered = await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "new" });
        EmailSendDecision full = await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "new" });

        // Assert
        atTimeout.IsAllowed.Should().BeTrue();
        atTimeout.Usage.ToArray().Should().Contain(u => u.Partition == "pool:noplan").And.NotContain(u => u.Partition == "pool:trial");
        answered.IsAllowed.Should().BeTrue();
        answered.Usage.ToArray().Should().Contain(u => u.Partition == "pool:trial").And.Contain(u => u.Partition == "new" && u.Limit == 100);
        full.Partition.Should().Be("pool:trial");
    }

    /// <summary>Answers every lookup with one task: pending until the test completes it.</summary>
    private sealed class AnswerProvider(Task<TenantLimits?> answer) : ITenantLimitProvider
    {
        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken) => new(answer);
    }
}
