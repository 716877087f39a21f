using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// The write-back before a store call reads the check's requests, which live in the guard's pooled buffers. Within a
/// check's store time budget the caller stops waiting for a write-back that hangs and hands its buffers on; the
/// write-back goes on by itself and must not read them after that.
/// </summary>
public sealed class LocalFallbackWriteBackBufferTests
{
    private static readonly RateLimitRule s_rule = RateLimitRule.PerMinute(10);

    [Fact]
    public async Task WriteBackBefore_CallerReusesItsRequestsWhileAWriteBackWaits_EveryCounterIsWrittenBack()
    {
        // Arrange: two counters admitted locally while the store was down.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero));
        LocalFallback fallback = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time), instanceCount: 1, instanceIndex: null, capacity: 100, time, NullLogger.Instance);
        await fallback.AcquireAsync(ResilienceHarness.One("first", s_rule), new RateLimitEntry[1], default);
        await fallback.AcquireAsync(ResilienceHarness.One("second", s_rule), new RateLimitEntry[1], default);
        RateLimitRequest[] requests = [new("first", s_rule, 1), new("second", s_rule, 1)];
        TaskCompletionSource hung = new(TaskCreationOptions.RunContinuationsAsynchronously);
        List<string> writtenBack = [];

        async ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)> Acquire(RateLimitRequest request)
        {
            lock (writtenBack)
            {
                writtenBack.Add(request.Key);
            }

            if (request.Key == "first")
            {
                await hung.Task;
            }

            return (new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, time.GetUtcNow()), new RateLimitEntry(true, request.Cost, 10, TimeSpan.Zero, default));
        }

        // Act: the first write-back hangs; the caller stops waiting and its buffers are cleared for the next check.
        Task writing = fallback.WriteBackBeforeAsync(requests, Acquire).AsTask();
        writing.IsCompleted.Should().BeFalse("the first counter's write-back waits on the store");
        Array.Clear(requests);
        hung.SetResult();
        Func<Task> finishing = () => writing;

        // Assert
        await finishing.Should().NotThrowAsync();
        writtenBack.Should().Equal("first", "second");
    }
}
