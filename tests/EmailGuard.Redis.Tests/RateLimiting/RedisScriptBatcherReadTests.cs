using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// A lane takes its next batch once every caller of the last one has read its reply, or after
/// <see cref="RedisScriptBatcher.MaxReadWait"/>: callers that come straight back then go out together instead of
/// splitting into half-full batches, and a caller that reads late delays the next batch by that bound at most. The
/// batcher runs scripts of its own here, which touch no keys, so that a test can hold a reply unread.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisScriptBatcherReadTests(RedisServerFixture redis)
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);

    private static readonly RedisScript s_one = new("test-one", "return 1");

    /// <summary>One reply per member, the member's place in its batch: ARGV[1] is the member count.</summary>
    private static readonly RedisScript s_batch = new("test-batch", "local out = {} for i = 1, tonumber(ARGV[1]) do out[i] = i end return out");

    [Fact]
    public async Task SendAsync_ReplyOfTheLastBatchNotRead_NextBatchWaitsUntilItIsRead()
    {
        FakeTimeProvider time = new();
        await using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        IDatabase database = multiplexer.GetDatabase();
        RedisScriptBatcher batcher = Batcher(time);

        ValueTask<RedisResult> first = Send(batcher, database, time);
        await AnsweredAsync(first);
        ValueTask<RedisResult> second = Send(batcher, database, time);

        // Not a timing threshold: the lane sent the second batch at once before, and answered it within a round trip.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        second.IsCompleted.Should().BeFalse("the caller of the first batch has not read its reply, and the fake clock has not moved");
        batcher.BatchesSent.Should().Be(1);

        ((int)await first).Should().Be(1);
        ((int)await second.AsTask().WaitAsync(s_bound)).Should().Be(1);
        batcher.BatchesSent.Should().Be(2);
    }

    [Fact]
    public async Task SendAsync_ReplyOfTheLastBatchNeverRead_NextBatchGoesAfterMaxReadWait()
    {
        FakeTimeProvider time = new();
        await using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        IDatabase database = multiplexer.GetDatabase();
        RedisScriptBatcher batcher = Batcher(time);

        ValueTask<RedisResult> unread = Send(batcher, database, time);
        await AnsweredAsync(unread);
        ValueTask<RedisResult> second = Send(batcher, database, time);

        // The lane's wait starts when it has answered the first batch: the clock moves until the second is answered.
        Task<RedisResult> answered = second.AsTask();
        using CancellationTokenSource bound = new(s_bound);
        while (!answered.IsCompleted)
        {
            bound.Token.ThrowIfCancellationRequested();
            time.Advance(RedisScriptBatcher.MaxReadWait);
            await Task.Delay(10);
        }

        ((int)await answered).Should().Be(1);
        batcher.BatchesSent.Should().Be(2);
        ((int)await unread).Should().Be(1);
    }

    private static RedisScriptBatcher Batcher(TimeProvider time)
        => new(new RedisScriptRunner(time, NullLogger.Instance, s_bound), s_batch, time, TimeSpan.FromHours(1), NullLogger.Instance, _ => { }, always: true);

    private static ValueTask<RedisResult> Send(RedisScriptBatcher batcher, IDatabase database, TimeProvider time)
        => batcher.SendAsync(database, 0, s_one, "c", RedisValue.Null, new RedisScriptCall("unused", 1, 1, 1), time.GetTimestamp(), CancellationToken.None);

    /// <summary>Waits until the reply has come, without reading it (a pooled reply is read once).</summary>
    private static async Task AnsweredAsync(ValueTask<RedisResult> reply)
    {
        using CancellationTokenSource bound = new(s_bound);
        while (!reply.IsCompleted)
        {
            await Task.Delay(10, bound.Token);
        }
    }
}
