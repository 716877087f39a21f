using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// The operator changed a tenant's plan and invalidated it, and the provider hangs or throws: until it answers, the
/// tenant gets the stricter of its last answer and the default tenant rules, never the laxer of the two. Other
/// instances: RedisTenantLimitInvalidationTests.
/// </summary>
public sealed class TenantLimitInvalidatedFallbackTests
{
    /// <summary>
    /// trial: a plan below the defaults (2 an hour, defaults 1,000) is not loosened to the defaults.
    /// cut: a plan above the defaults (10,000 an hour) is not kept; the defaults' hourly 1,000 and their daily 3 apply
    /// (the daily counter is new: the mail before counted only against the hourly one).
    /// lastOnly: a rule only the last answer has (2 a minute) is kept beside the defaults' hourly 1,000.
    /// </summary>
    public static TheoryData<string, bool, int> Scenarios => new()
    {
        { "trial", true, 1 },
        { "trial", false, 1 },
        { "cut", true, 3 },
        { "cut", false, 3 },
        { "lastOnly", true, 1 },
        { "lastOnly", false, 1 },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task CheckAfterInvalidation_ProviderHangsOrThrows_TheStricterOfTheLastAnswerAndTheDefaultsApplies(string scenario, bool hangs, int expected)
    {
        // Arrange: one mail counted under the last answer; then the provider goes silent (or throws), and the plan is invalidated.
        (RateLimitRule[] last, RateLimitRule[] defaults) = Rules(scenario);
        StallingProvider provider = new(last);
        await using ProviderBackedGuard app = ProviderBackedGuard.Start(provider, defaults);
        (await app.Guard.CheckAsync(Mail("acme"))).IsAllowed.Should().BeTrue();
        provider.Stall(hangs);

        // Act
        await app.Services.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        int admitted = 0;
        for (int i = 0; i < 5; i++)
        {
            admitted += (await CheckAsync(app, "acme")).IsAllowed ? 1 : 0;
        }

        provider.Release();

        // Assert
        admitted.Should().Be(expected, $"{scenario}: never more than the last answer or the defaults would admit");
        provider.Lookups.Should().Be(2, "the lookup after the invalidation is shared (hung) or cached for a lifetime (failed)");
    }

    [Fact]
    public async Task CheckAfterInvalidation_ProviderAnswersAfterHanging_ItsAnswerApplies()
    {
        StallingProvider provider = new(RateLimitRule.PerHour(2));
        await using ProviderBackedGuard app = ProviderBackedGuard.Start(provider, RateLimitRule.PerHour(1_000));
        (await app.Guard.CheckAsync(Mail("acme"))).IsAllowed.Should().BeTrue();
        provider.Stall(hangs: true);
        await app.Services.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        (await CheckAsync(app, "acme")).IsAllowed.Should().BeTrue("2 an hour, 1 used");

        provider.Rules = [RateLimitRule.PerHour(6)];
        provider.Release();
        await app.WhenCachedAsync("acme");
        int admitted = 0;
        for (int i = 0; i < 6; i++)
        {
            admitted += (await app.Guard.CheckAsync(Mail("acme"))).IsAllowed ? 1 : 0;
        }

        admitted.Should().Be(4, "the upgrade (6 an hour, 2 used) applies once the provider answered");
    }

    [Theory]
    [InlineData(5.0, null)]
    [InlineData(0.5, 0.5)]
    public async Task Invalidate_ProviderHangs_TheWeightIsTheSmallerOfTheLastAndTheDefault_UntilItAnswers(double lastWeight, double? whileHung)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        StallingProvider provider = new(RateLimitRule.PerHour(100)) { Weight = lastWeight };
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time, timeout: ProviderBackedGuard.Timeout, defaultWeight: 1);
        await cache.GetAsync("acme", [], default);
        provider.Stall(hangs: true);

        cache.Invalidate("acme");
        ValueTask<RateLimitRule[]> lookup = cache.GetAsync("acme", [], default);
        cache.TryGetWeight("acme", out double? hung).Should().BeTrue();
        provider.Weight = 3;
        provider.Release();
        await lookup.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        cache.TryGetWeight("acme", out double? answered).Should().BeTrue();

        hung.Should().Be(whileHung, "a weight above the default (1) is not kept while the new plan is unknown; one below it is");
        answered.Should().Be(3, "the new answer's weight applies once it came");
    }

    private static (RateLimitRule[] Last, RateLimitRule[] Defaults) Rules(string scenario) => scenario switch
    {
        "trial" => ([RateLimitRule.PerHour(2)], [RateLimitRule.PerHour(1_000)]),
        "cut" => ([RateLimitRule.PerHour(10_000)], [RateLimitRule.PerHour(1_000), RateLimitRule.PerDay(3)]),
        "lastOnly" => ([RateLimitRule.PerHour(10_000), RateLimitRule.PerMinute(2)], [RateLimitRule.PerHour(1_000)]),
        _ => throw new ArgumentOutOfRangeException(nameof(scenario)),
    };

    /// <summary>A check; one that waits for the provider is let past its timeout on the fake clock.</summary>
    private static async Task<EmailSendDecision> CheckAsync(ProviderBackedGuard app, string tenant)
    {
        ValueTask<EmailSendDecision> check = app.Guard.CheckAsync(Mail(tenant));
        if (!check.IsCompleted)
        {
            app.Time.Advance(ProviderBackedGuard.Timeout);
        }

        return await check.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static OutboundEmail Mail(string tenant) => new() { To = ["a@example.com"], TenantId = tenant };

    /// <summary>Answers its rules at once until stalled; then hangs until released, or throws.</summary>
    private sealed class StallingProvider(params RateLimitRule[] rules) : ITenantLimitProvider
    {
        private TaskCompletionSource? _gate;
        private bool _throws;
        private int _lookups;

        public RateLimitRule[] Rules { get; set; } = rules;

        public double? Weight { get; set; }

        public int Lookups => Volatile.Read(ref _lookups);

        public void Stall(bool hangs)
        {
            _throws = !hangs;
            _gate = hangs ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        }

        public void Release()
        {
            _throws = false;
            _gate?.TrySetResult();
        }

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            if (_gate is { } gate)
            {
                await gate.Task;
            }

            if (_throws)
            {
                throw new InvalidOperationException("The plans database is down (test).");
            }

            return new TenantLimits { Rules = Rules, FairShareWeight = Weight };
        }
    }
}
