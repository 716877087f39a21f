using System.Globalization;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// The scenario the store's cost per script call is measured on: single-key acquires spread over 10,000 keys, so that
/// no two concurrent calls share a key and nothing coalesces, made through the store and through the raw script alike.
/// Every harness that measures it (<see cref="RedisThroughput"/>'s modes and <see cref="RedisBuildComparison"/>) builds
/// it here, so their figures are of the same calls.
/// </summary>
internal sealed class SpreadKeys
{
    /// <summary>How many keys the calls go round.</summary>
    public const int Count = 10_000;

    private static readonly RedisValue[] s_rawArguments = [1, 3_600_000];

    private readonly RateLimitRequest[][] _requests;
    private readonly RedisKey[][] _rawKeys;
    private int _next;

    /// <summary>Keys <c>k0</c>… for the store (which adds its own prefix) and <paramref name="prefix"/><c>raw0</c>… for the raw script.</summary>
    public SpreadKeys(string prefix)
    {
        RateLimitRule rule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromHours(1));
        _requests = [.. Enumerable.Range(0, Count).Select(i => new[] { new RateLimitRequest("k" + i.ToString(CultureInfo.InvariantCulture), rule) })];
        _rawKeys = [.. Enumerable.Range(0, Count).Select(i => new[] { (RedisKey)(prefix + "raw" + i.ToString(CultureInfo.InvariantCulture)) })];
    }

    /// <summary>The raw baseline: <see cref="RedisThroughput.RawScript"/> on the next key, from an async lambda as an app would call it.</summary>
    public Func<Task> Raw(IDatabase database) => async () => await database.ScriptEvaluateAsync(RedisThroughput.RawScript, _rawKeys[Next()], s_rawArguments);

    /// <summary>An acquire of one permit of the next key on <paramref name="store"/>.</summary>
    public Func<Task> Acquire(IRateLimitStore store) => async () => await store.AcquireAsync(_requests[Next()], Memory<RateLimitEntry>.Empty);

    /// <summary>Removes the raw script's keys (the store's go with its prefix's expiry).</summary>
    public async Task DeleteRawKeysAsync(IDatabase database)
    {
        foreach (RedisKey[] key in _rawKeys)
        {
            await database.KeyDeleteAsync(key[0], CommandFlags.FireAndForget);
        }
    }

    private int Next() => (Interlocked.Increment(ref _next) & int.MaxValue) % Count;
}
