using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Guard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// What the tenant pool breaker tests (the scenario and the hostile ones) share, on every store: two app instances (one and the same instance on a store
/// that is not shared) whose trial tenants are in the pool <c>trial</c> of 5,000 an hour, every tenant 1,000 a day; the
/// breakers trip for <see cref="TripFor"/>, then are half-open for <see cref="HalfOpenFor"/> with a 50-send probe, and ban
/// no network; every trip and recovery is recorded. And what the tests do: check, bounce, refresh, move the clock.
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    /// <summary>A Monday, 10:05 UTC.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    /// <summary>How long a trip holds.</summary>
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);

    /// <summary>How long the half-open probe after a trip lasts.</summary>
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);

    private readonly List<IServiceProvider> _instances = [];

    /// <summary>The clock every instance reads.</summary>
    protected FakeTimeProvider Time { get; } = new(Start);

    /// <summary>Every trip the breakers reported (<see cref="EmailRatioBreakerOptions.OnTripped"/>); lock it to read it while instances run.</summary>
    private List<EmailRatioBreakerArguments> Trips { get; } = [];

    /// <summary>Every recovery the breakers reported (<see cref="EmailRatioBreakerOptions.OnRecovered"/>); lock it to read it while instances run.</summary>
    private List<EmailRatioBreakerRecoveredArguments> Recoveries { get; } = [];

    /// <summary>
    /// Builds one app instance over the store under test: <paramref name="configure"/> on its services (the clock, the
    /// tenant limit provider, the breakers' options), then <c>AddEmailGuard()</c>, the store, and
    /// <c>AddSendGuard(guard)</c>; each instance with its own connection.
    /// </summary>
    /// <param name="index">0 or 1: the two instances.</param>
    /// <param name="configure">The services every instance shares.</param>
    /// <param name="guard">The send guard's options.</param>
    /// <returns>The instance's services.</returns>
    protected abstract IServiceProvider CreateInstance(int index, Action<IServiceCollection> configure, Action<SendGuardOptions> guard);

    /// <summary>
    /// Whether the tenant limit provider puts <paramref name="tenant"/> in the pool <c>trial</c> now: the <c>trial-</c>
    /// tenants, but for those upgraded out of it (all but <c>trial-new</c> once <see cref="_upgraded"/> is set).
    /// </summary>
    private bool InTrialPool(string tenant) => tenant.StartsWith("trial-", StringComparison.Ordinal) && !(_upgraded && tenant != "trial-new");

    /// <summary>The trial tenant number <paramref name="i"/>.</summary>
    /// <param name="i">Its number.</param>
    /// <returns>Its id.</returns>
    private static string Tenant(int i) => "trial-" + i.ToString(CultureInfo.InvariantCulture);

    /// <summary>5 mails for each of 200 trial tenants, all admitted; returns their attributions (the pool named at the check).</summary>
    /// <param name="instance">The instance that checks them.</param>
    /// <returns>The attributions.</returns>
    private static async Task<List<EmailSendAttribution>> SendTrialAsync(IServiceProvider instance)
    {
        List<EmailSendAttribution> attributions = [];
        for (int m = 0; m < 5; m++)
        {
            for (int t = 0; t < 200; t++)
            {
                EmailSendDecision decision = await CheckAsync(instance, Tenant(t), string.Create(CultureInfo.InvariantCulture, $"t{t}m{m}"));
                decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Partition}");
                decision.Attribution!.TenantPool.Should().Be("trial");
                attributions.Add(decision.Attribution);
            }
        }

        return attributions;
    }

    /// <summary>Checks one mail of <paramref name="tenant"/> to <paramref name="local"/>@example.com.</summary>
    /// <param name="instance">The instance that checks it.</param>
    /// <param name="tenant">The tenant.</param>
    /// <param name="local">The recipient's local part.</param>
    /// <returns>The decision.</returns>
    private static async Task<EmailSendDecision> CheckAsync(IServiceProvider instance, string tenant, string local)
        => await instance.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [local + "@example.com"], TenantId = tenant });

    /// <summary>Records a permanent bounce of <paramref name="mail"/>, as a provider's webhook would.</summary>
    /// <param name="instance">The instance that records it.</param>
    /// <param name="mail">The bounced mail's attribution.</param>
    /// <returns>A task.</returns>
    private static async Task BounceAsync(IServiceProvider instance, EmailSendAttribution mail)
    {
        EmailFeedbackResult result = await instance.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "bounce-" + mail.SendId,
            Recipient = "bounced-" + mail.SendId + "@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = mail,
        });
        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }

    /// <summary>Reloads the instance's flags now.</summary>
    /// <param name="instance">The instance.</param>
    /// <returns>A task.</returns>
    private static Task RefreshAsync(IServiceProvider instance) => instance.GetRequiredService<GuardStateCache>().StartRefresh();

    /// <summary>The two instances (see the class), made once per test.</summary>
    /// <param name="breakers">More of the breakers' options, after the class's.</param>
    /// <returns>The two instances: one and the same on a store that is not shared.</returns>
    private (IServiceProvider A, IServiceProvider B) Instances(Action<EmailRatioBreakerOptions>? breakers = null)
    {
        CountingTenantLimitProvider provider = new(t => InTrialPool(t)
            ? new TenantLimits { Rules = [RateLimitRule.PerDay(1_000)], Pool = "trial" }
            : new TenantLimits { Rules = [RateLimitRule.PerDay(1_000)] });
        void Configure(IServiceCollection services)
        {
            services.AddSingleton<TimeProvider>(Time);
            services.AddSingleton<ITenantLimitProvider>(provider);
            services.Configure<EmailRatioBreakerOptions>(o =>
            {
                o.TripFor = TripFor;
                o.HalfOpenFor = HalfOpenFor;
                o.HalfOpenMinimumSends = 50;
                o.NetworkBouncesToBan = 0;
                o.OnTripped = args =>
                {
                    lock (Trips)
                    {
                        Trips.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                o.OnRecovered = args =>
                {
                    lock (Recoveries)
                    {
                        Recoveries.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                breakers?.Invoke(o);
            });
        }

        static void Guard(SendGuardOptions o)
        {
            o.StateRefreshInterval = TimeSpan.FromHours(1);
            o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(5_000));
        }

        IServiceProvider a = CreateInstance(0, Configure, Guard);
        IServiceProvider b = CreateInstance(1, Configure, Guard);
        _instances.Add(a);
        if (!ReferenceEquals(a, b))
        {
            _instances.Add(b);
        }

        return (a, b);
    }

    /// <summary>
    /// Moves the clock once no state refresh a check started is in flight (on a real store it would time out on the
    /// jump, its timeout running on this clock, and open the state store's circuit), then waits for the breakers' timers.
    /// </summary>
    /// <param name="by">How far.</param>
    /// <returns>A task.</returns>
    private async Task AdvanceAsync(TimeSpan by)
    {
        foreach (IServiceProvider instance in _instances)
        {
            if (instance.GetRequiredService<GuardStateCache>().Refreshing is { } refreshing)
            {
                await refreshing;
            }
        }

        Time.Advance(by);
        foreach (IServiceProvider instance in _instances)
        {
            await instance.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
        }
    }
}
