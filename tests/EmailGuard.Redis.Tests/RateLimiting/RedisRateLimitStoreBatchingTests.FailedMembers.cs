using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// A multi-key member that fails half-way through its reads leaves nothing behind for the members after it: the batch
/// script reuses one table of counter states for all members, emptied of the last member's keys before each.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public Task AcquireAsync_MemberFailingAfterReadingASharedCounter_LaterMembersCountFromWhatWasTaken(bool useServerTime)
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // The failing member reads the shared counter (its cost, 3, pending on it) and then fails on a list. Were its
        // state of the shared counter kept, the next member would count those 3 as taken before it. Redis fails the
        // read of a list; Garnet keeps lists apart and reads nothing there, so the member is admitted instead.
        // The leader and the members before and after the failing one write the shared counter first at once, then
        // in the batch's record of it; on server time the first write also sets the window's expiry.
        (_, RedisRateLimitStore store) = await OwnStoreAsync(scenario, useServerTime, TimeSpan.FromSeconds(30));
        RateLimitRule rule = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(300));
        RedisKey wrong = store.CounterKey("a-list", rule);
        await Admin.GetDatabase().ListLeftPushAsync(wrong, "not a counter");
        await Admin.GetDatabase().KeyExpireAsync(wrong, TimeSpan.FromMinutes(1));
        RateLimitRequest[] Request(int i) => i switch
        {
            0 => [new("leader", rule), new("leader-2", rule)],
            1 => [new("shared", rule, 3), new("a-list", rule)],
            _ => [new("shared", rule), new($"own-{i}", rule)],
        };
        long batches = store.Batcher!.BatchesSent;

        await scenario.PauseAsync(TimeSpan.FromMilliseconds(300));
        RateLimitEntry[][] entries = [.. Enumerable.Range(0, 20).Select(i => new RateLimitEntry[2])];
        Task<RateLimitDecision>[] calls = [.. Enumerable.Range(0, 20).Select(i => store.AcquireAsync(Request(i), entries[i]).AsTask())];
        scenario.ExpectStillPaused("the 20 calls were queued");
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));
        if (scenario.Missed is not null)
        {
            await Admin.GetDatabase().KeyDeleteAsync(wrong);
        }

        scenario.AssertPremiseOrRunAgain();

        (store.Batcher.BatchesSent - batches).Should().BeGreaterThan(0);
        calls.Where((_, i) => i != 1).Should().OnlyContain(c => c.IsCompletedSuccessfully && c.Result.IsAllowed);
        long failedTook = 0;
        if (Redis.IsGarnet)
        {
            failedTook = calls[1].IsCompletedSuccessfully && (await calls[1]).IsAllowed ? 3 : 0;
        }
        else
        {
            Func<Task> failed = () => calls[1];
            await failed.Should().ThrowAsync<RedisServerException>().WithMessage("*WRONGTYPE*");
        }

        for (int i = 2; i < calls.Length; i++)
        {
            entries[i][0].Count.Should().Be(failedTook + i - 1, $"call {i} takes from the shared counter after {i - 2} others");
        }

        (await PeekCountAsync(store, [new("shared", rule)])).Should().Be(failedTook + calls.Length - 2);
        (await Admin.GetDatabase().KeyTimeToLiveAsync(store.CounterKey("shared", rule))).Should().NotBeNull("a counter never exists without its expiry");
        await Admin.GetDatabase().KeyDeleteAsync(wrong);
    });
}
