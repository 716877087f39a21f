using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The store reuses the arguments of the last multi-key acquire on the server's clock; a call that differs in anything
/// the script reads (a rule, a cost, the mode, whether entries are wanted, a reservation's wait) gets its own.
/// </summary>
public class RedisAcquireArgumentCacheTests
{
    private static readonly RateLimitRule s_hourly = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
    private static readonly RateLimitRule s_daily = RateLimitRule.PerDay(100);

    public static TheoryData<string> Changes => ["cost", "rule", "equal rule", "commit", "entries", "reserve", "reserve wait", "length"];

    [Fact]
    public void Get_SameRulesCostsAndMode_ReturnsTheSameArray()
    {
        RedisAcquireArgumentCache cache = new();
        RateLimitRequest[] first = [new("a", s_hourly), new("b", s_daily, 2)];
        RateLimitRequest[] second = [new("c", s_hourly), new("d", s_daily, 2)];

        RedisValue[] built = cache.Get(first, commit: true, wantEntries: true, reserveMaxWaitMs: -1);
        RedisValue[] reused = cache.Get(second, commit: true, wantEntries: true, reserveMaxWaitMs: -1);

        reused.Should().BeSameAs(built, "the keys differ, the arguments do not");
        built.Should().Equal(RedisScriptCodec.AcquireArguments(first, null, true, RedisScriptCodec.ServerTime, true, true));
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public void Get_CallDiffersInWhatTheScriptReads_BuildsItsOwnArguments(string change)
    {
        RedisAcquireArgumentCache cache = new();
        RateLimitRequest[] first = [new("a", s_hourly), new("b", s_daily, 2)];
        (RateLimitRequest[] requests, bool commit, bool entries, long reserve) = change switch
        {
            "cost" => ([new("a", s_hourly), new("b", s_daily, 3)], true, true, -1L),
            "rule" => ([new("a", s_hourly), new("b", RateLimitRule.PerDay(101), 2)], true, true, -1L),
            "equal rule" => ([new("a", RateLimitRule.PerHour(RateLimitRule.MaxLimit)), new("b", s_daily, 2)], true, true, -1L),
            "commit" => (first, false, true, -1L),
            "entries" => (first, true, false, -1L),
            "reserve" => (first, true, true, 0L),
            "reserve wait" => (first, true, true, 500L),
            _ => ([new("a", s_hourly)], true, true, -1L),
        };
        RedisValue[] before = cache.Get(first, commit: true, wantEntries: true, reserveMaxWaitMs: change == "reserve wait" ? 400 : -1);

        RedisValue[] after = cache.Get(requests, commit, entries, reserve);

        after.Should().NotBeSameAs(before);
        after.Should().Equal(RedisScriptCodec.AcquireArguments(requests, null, commit, RedisScriptCodec.ServerTime, entries, true, reserve));
        cache.Get(first, commit: true, wantEntries: true, reserveMaxWaitMs: change == "reserve wait" ? 400 : -1).Should()
            .Equal(before, "going back builds the first call's arguments again");
    }
}
