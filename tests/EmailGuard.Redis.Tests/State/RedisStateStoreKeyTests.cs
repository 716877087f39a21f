using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.State;

/// <summary>
/// The names the Redis state store gives flags: unchanged for reasons without a colon, so flags written by an earlier
/// version are still replaced and removed, and escaped for reasons with one, so no two flags share a name.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisStateStoreKeyTests(RedisServerFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _multiplexer;
    private RedisConnection? _connection;

    public Task InitializeAsync()
    {
        _multiplexer = redis.CreateMultiplexer();
        _connection = new RedisConnection(_multiplexer, _prefix);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(_multiplexer!, _prefix);
        if (keys.Count > 0)
        {
            await _multiplexer!.GetDatabase().KeyDeleteAsync([.. keys.Select(k => k.Key)]);
        }

        _connection!.Dispose();
        await _multiplexer!.DisposeAsync();
    }

    [Fact]
    public async Task FlagNames_ColonFreeReasonsKeepTheirName_ReasonsWithAColonOrPercentAreEscaped()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        RedisEmailGuardStateStore store = new(_connection!, time);
        string root = $"{_prefix}{{{_prefix}guard}}:";

        await store.UpsertFlagAsync(Flag("2001:db8::1", "Spam", time), CancellationToken.None);
        await store.UpsertFlagAsync(Flag("c", "A:b", time), CancellationToken.None);
        await store.UpsertFlagAsync(Flag("c", "50%", time), CancellationToken.None);
        IDatabase db = _multiplexer!.GetDatabase();

        (await db.KeyExistsAsync(root + "f:3:spam:2001:db8::1")).Should().BeTrue("a colon-free reason keeps the name earlier versions wrote");
        (await db.KeyExistsAsync(root + "f:3:a%3Ab:c")).Should().BeTrue();
        (await db.KeyExistsAsync(root + "f:3:50%25:c")).Should().BeTrue();
        (await db.SortedSetRangeByRankAsync(root + "flags")).Select(m => (string)m!).Should().BeEquivalentTo(["3:spam:2001:db8::1", "3:a%3Ab:c", "3:50%25:c"]);
    }

    private static EmailGuardFlag Flag(string partyId, string reason, TimeProvider time) => new()
    {
        PartyType = EmailGuardPartyType.Tenant,
        PartyId = partyId,
        Reason = reason,
        CreatedAt = time.GetUtcNow(),
        ExpiresAt = time.GetUtcNow().AddHours(1),
    };
}
