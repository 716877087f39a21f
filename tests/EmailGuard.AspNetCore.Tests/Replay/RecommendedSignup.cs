using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Replay;

/// <summary>
/// The recommended signup configuration of docs/deliverability.md, word for word, so the replay measures what the
/// docs tell an app to run.
/// </summary>
internal static class RecommendedSignup
{
    public static void Add(IServiceCollection services)
    {
        services.AddEmailGuard()
            .AddSendGuard(o =>
            {
                o.Recipient.Add(RateLimitRule.PerHour(3));
                o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(300));
            })
            .AddEndpointPolicies(o => o.AddPolicy("signup", p => p
                .PerClientIp(RateLimitRule.SlidingWindow(1, TimeSpan.FromMinutes(15), 3))
                .WithEscalatingBan(b =>
                {
                    b.MaxDenials = 5;
                    b.Within = TimeSpan.FromMinutes(10);
                    b.BanFor = TimeSpan.FromHours(6);
                    b.MaxBanFor = TimeSpan.FromDays(7);
                })
                .WithBounceBan(b =>
                {
                    b.Bounces = 2;
                    b.BanFor = TimeSpan.FromDays(1);
                })
                .WithSurgeBreaker(s =>
                {
                    s.ThresholdPerMinute = 3;
                    s.TripFor = TimeSpan.FromDays(1);
                })));
        services.Configure<EmailFeedbackOptions>(o => o.CountLastSends = 1_000);
        services.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 50;
            o.BounceRateToReduce = 0.02;
            o.BounceRateToSuspend = 0.04;
            o.NetworkBouncesToBan = 0;
        });
    }
}
