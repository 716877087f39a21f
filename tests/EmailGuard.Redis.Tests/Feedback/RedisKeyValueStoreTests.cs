using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Feedback;

/// <summary>
/// The Redis key-value store's add-if-absent, which the webhooks' shared replay memory stands on, and its
/// remove-if-equal, with which a claim is given up.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisKeyValueStoreTests(RedisServerFixture redis)
{
    [Fact]
    public async Task GetOrAdd_ManyCallersOnSeveralInstances_ExactlyOneStores_AndAllSeeItsValue()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        List<ConnectionMultiplexer> multiplexers = [.. Enumerable.Range(0, 4).Select(_ => redis.CreateMultiplexer())];
        List<RedisConnection> instances = [.. multiplexers.Select(m => new RedisConnection(m, prefix))];
        try
        {
            RedisKeyValueStore[] stores = [.. instances.Select(c => new RedisKeyValueStore(c))];

            string?[] answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
                stores[i % stores.Length].GetOrAddAsync("token", "body-" + i, TimeSpan.FromMinutes(10)).AsTask()));

            string winner = "body-" + Array.IndexOf(answers, null);
            answers.Count(a => a is null).Should().Be(1, "exactly one caller stores");
            answers.Where(a => a is not null).Should().OnlyContain(a => a == winner);
            (await stores[0].GetAsync("token")).Should().Be(winner);
            TimeSpan? ttl = await multiplexers[0].GetDatabase().KeyTimeToLiveAsync(stores[0].KeyOf("token"));
            ttl.Should().NotBeNull().And.BeGreaterThan(TimeSpan.FromMinutes(9)).And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(10));
        }
        finally
        {
            foreach (RedisConnection connection in instances)
            {
                connection.Dispose();
            }
        }
    }

    [Fact]
    public async Task GetOrAdd_AfterTheScriptCacheWasFlushed_ReloadsOnTheRunnersPath_AndStillStoresOnce()
    {
        // A flush (or a failover to a replica that never saw the script) empties the server's script cache; the store
        // sends its script by SHA, so it must come back through the runner's NOSCRIPT path rather than fail the
        // webhook that asked, or answer "absent" twice.
        ConnectionMultiplexer admin = redis.CreateMultiplexer();
        using RedisConnection connection = new(redis.CreateMultiplexer(), RedisServerFixture.UniquePrefix());
        RedisKeyValueStore store = new(connection);
        (await store.GetOrAddAsync("before", "v", TimeSpan.FromMinutes(1))).Should().BeNull();

        await admin.GetServers()[0].ScriptFlushAsync();
        string? first = await store.GetOrAddAsync("token", "first", TimeSpan.FromMinutes(1));
        string? second = await store.GetOrAddAsync("token", "second", TimeSpan.FromMinutes(1));

        first.Should().BeNull("the first caller stores");
        second.Should().Be("first", "the second caller sees the first one's value");
    }

    [Fact]
    public async Task Remove_AfterTheScriptCacheWasFlushed_ReloadsOnTheRunnersPath_AndRemovesOnlyTheExpectedValue()
    {
        ConnectionMultiplexer admin = redis.CreateMultiplexer();
        using RedisConnection connection = new(redis.CreateMultiplexer(), RedisServerFixture.UniquePrefix());
        RedisKeyValueStore store = new(connection);
        (await store.GetOrAddAsync("claim", "mine", TimeSpan.FromMinutes(1))).Should().BeNull();
        (await store.RemoveAsync("claim", "mine")).Should().BeTrue();
        (await store.GetOrAddAsync("claim", "theirs", TimeSpan.FromMinutes(1))).Should().BeNull();

        await admin.GetServers()[0].ScriptFlushAsync();
        bool foreign = await store.RemoveAsync("claim", "mine");
        bool own = await store.RemoveAsync("claim", "theirs");

        foreign.Should().BeFalse("the claim is another's");
        own.Should().BeTrue();
        (await store.GetAsync("claim")).Should().BeNull();
    }

    [Fact]
    public async Task Remove_UnderItsOwnPrefix_LeavesTheSameKeyOfAnotherPrefixAlone()
    {
        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        using RedisConnection mine = new(multiplexer, RedisServerFixture.UniquePrefix());
        using RedisConnection other = new(multiplexer, RedisServerFixture.UniquePrefix());
        RedisKeyValueStore store = new(mine);
        RedisKeyValueStore otherStore = new(other);
        await otherStore.SetAsync("claim", "same", TimeSpan.FromMinutes(1));
        await store.SetAsync("claim", "same", TimeSpan.FromMinutes(1));

        bool removed = await store.RemoveAsync("claim", "same");

        removed.Should().BeTrue();
        (await multiplexer.GetDatabase().KeyExistsAsync(store.KeyOf("claim"))).Should().BeFalse();
        (await otherStore.GetAsync("claim")).Should().Be("same", "another prefix is another application's store");
    }

    [Fact]
    public async Task Remove_ManyClaimsAndReleasesOnSeveralInstances_EachReleaseRemovesOnlyItsOwnClaim()
    {
        // Four connections, sixteen callers: each claims, and releases with its own value whether or not it won.
        string prefix = RedisServerFixture.UniquePrefix();
        List<ConnectionMultiplexer> multiplexers = [.. Enumerable.Range(0, 4).Select(_ => redis.CreateMultiplexer())];
        List<RedisConnection> instances = [.. multiplexers.Select(m => new RedisConnection(m, prefix))];
        try
        {
            RedisKeyValueStore[] stores = [.. instances.Select(c => new RedisKeyValueStore(c))];
            int wins = 0;
            int released = 0;
            int releasedByLosers = 0;

            await Task.WhenAll(Enumerable.Range(0, 16).Select(caller => Task.Run(async () =>
            {
                RedisKeyValueStore store = stores[caller % stores.Length];
                for (int round = 0; round < 25; round++)
                {
                    bool won = await store.GetOrAddAsync("claim", "caller-" + caller, TimeSpan.FromMinutes(10)) is null;
                    bool removed = await store.RemoveAsync("claim", "caller-" + caller);
                    Interlocked.Add(ref wins, won ? 1 : 0);
                    Interlocked.Add(ref released, won && removed ? 1 : 0);
                    Interlocked.Add(ref releasedByLosers, !won && removed ? 1 : 0);
                }
            })));

            wins.Should().BeGreaterThan(0);
            released.Should().Be(wins, "no one else removed a winner's claim");
            releasedByLosers.Should().Be(0, "a caller that did not win holds nothing to remove");
            (await stores[0].GetAsync("claim")).Should().BeNull();
        }
        finally
        {
            foreach (RedisConnection connection in instances)
            {
                connection.Dispose();
            }
        }
    }

    [Fact]
    public async Task GetOrAdd_AfterTheValueExpired_StoresAgain()
    {
        // The value is stored with a long TTL and then made to expire on the server, rather than stored with a TTL of a
        // few milliseconds: on a loaded machine the second call could come after such a TTL, and the test would race.
        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        using RedisConnection connection = new(multiplexer, RedisServerFixture.UniquePrefix());
        RedisKeyValueStore store = new(connection);
        IDatabase database = multiplexer.GetDatabase();

        (await store.GetOrAddAsync("short", "first", TimeSpan.FromMinutes(1))).Should().BeNull();
        (await store.GetOrAddAsync("short", "second", TimeSpan.FromMinutes(1))).Should().Be("first");
        (await database.KeyExpireAsync(store.KeyOf("short"), TimeSpan.FromMilliseconds(1))).Should().BeTrue();
        for (int i = 0; i < 500 && await database.KeyExistsAsync(store.KeyOf("short")); i++)
        {
            await Task.Delay(10);
        }

        (await store.GetOrAddAsync("short", "third", TimeSpan.FromMinutes(1))).Should().BeNull();
        (await store.GetAsync("short")).Should().Be("third");
    }
}
