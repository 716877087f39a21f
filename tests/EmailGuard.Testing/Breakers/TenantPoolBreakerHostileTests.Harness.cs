using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Guard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Testing.Breakers;

/// <summary>The two app instances of the hostile tests, and what they do: check, bounce, refresh, move the clock.</summary>
public abstract partial class TenantPoolBreakerHostileTests
{
    private List<EmailRatioBreakerArguments> PoolTrips
    {
        get
        {
            lock (_trips)
            {
                return [.. _trips.Where(t => t.TenantPool is not null)];
            }
        }
    }

    private static string Tenant(int i) => "trial-" + i.ToString(CultureInfo.InvariantCulture);

    private (IServiceProvider A, IServiceProvider B) Instances()
    {
        CountingTenantLimitProvider provider = new(t => t.StartsWith("trial-", StringComparison.Ordinal)
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
                    lock (_trips)
                    {
                        _trips.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                o.OnRecovered = args =>
                {
                    lock (_recoveries)
                    {
                        _recoveries.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
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

    /// <summary>5 mails for each of 200 trial tenants, all admitted; returns their attributions.</summary>
    private static async Task<List<EmailSendAttribution>> SendTrialAsync(IServiceProvider instance)
    {
        List<EmailSendAttribution> attributions = [];
        for (int m = 0; m < 5; m++)
        {
            for (int t = 0; t < 200; t++)
            {
                EmailSendDecision decision = await CheckAsync(instance, Tenant(t), string.Create(CultureInfo.InvariantCulture, $"t{t}m{m}"));
                decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Partition}");
                attributions.Add(decision.Attribution!);
            }
        }

        return attributions;
    }

    private static async Task<EmailSendDecision> CheckAsync(IServiceProvider instance, string tenant, string local)
        => await instance.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [local + "@example.com"], TenantId = tenant });

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

    private static Task RefreshAsync(IServiceProvider instance) => instance.GetRequiredService<GuardStateCache>().StartRefresh();

    /// <summary>Moves the clock once no state refresh is in flight, then waits for the breakers' timers.</summary>
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
