using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Feedback;

/// <summary>The key-value store's remove goes through the same timeout and circuit breaker as its other calls.</summary>
public sealed class ResilientKeyValueStoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Remove_StoreFails_IsStoreUnavailable_AndOpensTheCircuitLikeTheOtherCalls()
    {
        CountingStore inner = new() { Fail = true };
        ResilientKeyValueStore store = new(inner, new StoreResilienceOptions { ConsecutiveFailureThreshold = 3 }, _time);

        for (int i = 0; i < 3; i++)
        {
            await FluentActions.Awaiting(() => store.RemoveAsync("claim", "me", "release a claim", default).AsTask())
                .Should().ThrowAsync<EmailGuardStoreUnavailableException>().WithMessage("*failed: could not release a claim.");
        }

        Func<Task> whileOpen = () => store.GetOrAddAsync("claim", "me", TimeSpan.FromMinutes(1), "claim", default).AsTask();

        await whileOpen.Should().ThrowAsync<EmailGuardStoreUnavailableException>().WithMessage("*circuit is open*");
        inner.Calls.Should().Be(3, "the open circuit answers without calling the store");
    }

    [Fact]
    public async Task Remove_StoreDoesNotAnswer_IsStoreUnavailable_AfterTheTimeout()
    {
        CountingStore inner = new() { Hang = true };
        ResilientKeyValueStore store = new(inner, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(1) }, _time);

        Task<bool> removing = store.RemoveAsync("claim", "me", "release a claim", default).AsTask();
        removing.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromSeconds(1));

        await FluentActions.Awaiting(() => removing).Should().ThrowAsync<EmailGuardStoreUnavailableException>()
            .WithMessage("*did not answer within 1000 ms: could not release a claim.");
    }

    [Fact]
    public async Task Remove_BadInput_PassesThrough_AndCountsNoFailure()
    {
        ResilientKeyValueStore store = new(new InMemoryKeyValueStore(10, _time), new StoreResilienceOptions { ConsecutiveFailureThreshold = 1 }, _time);
        await store.SetAsync("claim", "me", TimeSpan.FromMinutes(1), default);

        await FluentActions.Awaiting(() => store.RemoveAsync("claim", "line\nbreak", "release a claim", default).AsTask())
            .Should().ThrowAsync<ArgumentException>().WithParameterName("expectedValue");
        bool removed = await store.RemoveAsync("claim", "me", "release a claim", default);

        removed.Should().BeTrue("bad input is the caller's bug, not the store failing, so the circuit stayed closed");
    }

    private sealed class CountingStore : IEmailGuardKeyValueStore
    {
        private readonly TaskCompletionSource<bool> _never = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Fail { get; init; }

        public bool Hang { get; init; }

        public int Calls { get; private set; }

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Calls++;
            throw new InvalidOperationException("down");
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            Calls++;
            return Fail ? throw new InvalidOperationException("down") : Hang ? new(_never.Task) : new(false);
        }
    }
}
