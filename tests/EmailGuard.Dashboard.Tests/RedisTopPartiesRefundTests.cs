using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Two instances sharing a real Redis: the top parties one instance's dashboard shows of the other are net of the
/// other's refunds, made while both checked and refunded concurrently.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisTopPartiesRefundTests(RedisServerFixture redis)
{
    [Fact]
    public async Task RefundsOnOneInstance_ConcurrentWithChecks_TheOtherInstancesDashboardShowsExactNetCounts()
    {
        // Arrange
        string prefix = RedisServerFixture.UniquePrefix();
        await using DashboardHost first = await StartAsync(prefix);
        await using DashboardHost second = await StartAsync(prefix);
        IEmailSendGuard guard = first.Services.GetRequiredService<IEmailSendGuard>();
        int refundedTwice = 0;

        // Act: 400 checks on 8 workers; 300 of them refunded, each by two callers at once, as a provider outage would.
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { Sender = "bulk@shop.example", To = [$"r{i}@example.com"], UserId = "bulk" });
            decision.IsAllowed.Should().BeTrue();
            if (i % 4 != 0)
            {
                bool[] refunded = await Task.WhenAll(guard.RefundAsync(decision).AsTask(), guard.RefundAsync(decision).AsTask());
                refunded.Count(r => r).Should().Be(1);
                if (refunded.All(r => r))
                {
                    Interlocked.Increment(ref refundedTwice);
                }
            }
        });

        await first.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);
        ActivityView view = await second.Services.GetRequiredService<ActivityExchange>().ReadAsync(default);

        // Assert
        refundedTwice.Should().Be(0);
        view.Top(ActivityDimension.User, denials: false, 10).Should().Equal(new TopParty("bulk", 100, 0));
        view.Top(ActivityDimension.Sender, denials: false, 10).Should().Equal(new TopParty("bulk@shop.example", 100, 0));
        view.Top(ActivityDimension.RecipientDomain, denials: false, 10).Should().Equal(new TopParty("example.com", 100, 0));
    }

    private Task<DashboardHost> StartAsync(string prefix)
        => DashboardHost.StartAsync(services: s =>
        {
            // A loaded machine can take longer than the default 250 ms, and a check admitted unguarded is not refundable.
            s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromSeconds(5));
            s.AddEmailGuard().AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = prefix;
            });
        });
}
