namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// A key-value store that runs a step of the test right after its next call has answered, before the caller sees the
/// answer: another instance's move at the worst moment, the same on any store behind it.
/// </summary>
internal sealed class InterleavingKeyValueStore(IEmailGuardKeyValueStore inner) : IEmailGuardKeyValueStore
{
    private Func<Task>? _afterNextCall;

    /// <summary>Runs <paramref name="step"/> once, after the next call to this store has answered.</summary>
    public void AfterNextCall(Func<Task> step) => _afterNextCall = step;

    public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        => new(ThenAsync(AnsweredAsync(inner.SetAsync(key, value, timeToLive, cancellationToken))));

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        => new(ThenAsync(inner.GetAsync(key, cancellationToken)));

    public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        => new(ThenAsync(inner.GetOrAddAsync(key, value, timeToLive, cancellationToken)));

    public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        => new(ThenAsync(inner.RemoveAsync(key, expectedValue, cancellationToken)));

    private static async ValueTask<bool> AnsweredAsync(ValueTask call)
    {
        await call.ConfigureAwait(false);
        return true;
    }

    private async Task<T> ThenAsync<T>(ValueTask<T> call)
    {
        T answer = await call.ConfigureAwait(false);
        if (Interlocked.Exchange(ref _afterNextCall, null) is { } step)
        {
            await step().ConfigureAwait(false);
        }

        return answer;
    }
}
