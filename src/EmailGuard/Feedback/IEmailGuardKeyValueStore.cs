namespace EmailGuard;

/// <summary>
/// A small shared key-value store with a time to live, where feedback keeps its message-id mappings and the webhooks
/// their replay tokens. In memory (bounded) by default; the Redis package stores the values as Redis strings with a
/// TTL. A third-party store implements these four calls to stand on the same terms, and is registered with
/// <see cref="Microsoft.Extensions.DependencyInjection.EmailGuardStoreBuilderExtensions.AddKeyValueStore{TStore}(IEmailGuardBuilder)"/>.
/// </summary>
/// <remarks>
/// Keys are 1 to 256 printable ASCII characters without spaces; values are at most 4,096 printable ASCII characters
/// or spaces. An implementation checks its arguments with <see cref="KeyValueStoreValidation"/> before anything else,
/// so every store refuses the same input with the same exception. Implementations may drop values early (the bounded in-memory store evicts expired values first, then its oldest) but must never return a value after
/// its time to live, and must never return another key's value. EmailGuard bounds every call by
/// <see cref="StoreResilienceOptions.Timeout"/>; an implementation reports a failure by throwing.
/// </remarks>
public interface IEmailGuardKeyValueStore
{
    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any value, for <paramref name="timeToLive"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="timeToLive">How long the value lives; positive.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the value is stored.</returns>
    ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default);

    /// <summary>Reads the value stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The value, or <see langword="null"/> when there is none or it expired.</returns>
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="value"/> under <paramref name="key"/> for <paramref name="timeToLive"/> unless a live value
    /// is already there, atomically: of concurrent calls with the same key on any instance, exactly one stores.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="timeToLive">How long the value lives; positive.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The live value that was already there (left unchanged), or <see langword="null"/> when this call stored <paramref name="value"/>.</returns>
    ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes the value stored under <paramref name="key"/> only if it is <paramref name="expectedValue"/> (ordinal
    /// comparison), atomically: a value stored meanwhile by another call, on any instance, is never removed. A claim made
    /// with <see cref="GetOrAddAsync"/> is given up this way, so that a claim that expired and was taken by another
    /// instance stays theirs.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="expectedValue">The value to remove; any other value under <paramref name="key"/> is left alone.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// <see langword="true"/> when this call removed the value; <see langword="false"/> when there was no live value, or
    /// another one.
    /// </returns>
    ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default);
}
