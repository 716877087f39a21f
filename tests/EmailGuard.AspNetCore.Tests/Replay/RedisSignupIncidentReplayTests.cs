using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The signup incident replayed against two instances behind a round-robin load balancer, sharing a real Redis: the
/// bans, surge breakers, flags and feedback counts that hold the bot off on one instance must hold across both, and
/// the bot gains nothing from landing on either. The store runs on the app's (simulated) clock, as the replay's six
/// hours pass in seconds.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSignupIncidentReplayTests(RedisServerFixture redis, ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(SignupIncidentReplayTests.Targets), MemberType = typeof(SignupIncidentReplayTests))]
    public async Task Replay_TwoInstancesOnRedis_MeetTheSameTargets(SignupIncidentReplayTests.BotShape shape, double maxBounceRate, double minRealDelivered)
    {
        string prefix = RedisServerFixture.UniquePrefix();

        SignupIncidentReplayTests.ReplayResult result = await SignupIncidentReplayTests.RunAsync(
            shape,
            instances: 2,
            store: services => services.AddEmailGuard().AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = prefix;
                o.UseServerTime = false;
            }));

        SignupIncidentReplayTests.Report(output, shape, result);
        SignupIncidentReplayTests.AssertTargets(result, maxBounceRate, minRealDelivered);
    }
}
