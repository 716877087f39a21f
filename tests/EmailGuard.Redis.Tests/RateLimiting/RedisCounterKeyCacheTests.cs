namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The counter names a store finds again by the identity of the strings they were built from must always be the names
/// <see cref="RedisCounterKey.Create"/> builds: a wrong hit would count a request on another partition's, shape's or
/// window's counter.
/// </summary>
public class RedisCounterKeyCacheTests
{
    private const string Prefix = "eg:";

    [Fact]
    public void Get_SameStrings_AnswersTheNameItBuiltBefore()
    {
        RedisCounterKeyCache cache = new(Prefix);
        string key = "user-" + 7;
        string shape = RateLimitRule.PerHour(5).ShapeId;

        string first = cache.Get(key, shape, RedisCounterKey.NoWindow);

        first.Should().Be(RedisCounterKey.Create(Prefix, key, shape, RedisCounterKey.NoWindow));
        cache.Get(key, shape, RedisCounterKey.NoWindow).Should().BeSameAs(first, "the same strings find the name built for them");
    }

    [Fact]
    public void Get_AnyDifference_BuildsThatName()
    {
        // An equal key in another string, another key of the same length, another shape, another window, another
        // prefix: each must get exactly the name Create builds for it, whatever was cached before.
        RedisCounterKeyCache cache = new(Prefix);
        string key = "user-" + 7;
        string shape = RateLimitRule.PerHour(5).ShapeId;
        cache.Get(key, shape, 100);

        cache.Get("user-" + 7, shape, 100).Should().Be(RedisCounterKey.Create(Prefix, key, shape, 100));
        cache.Get("user-" + 8, shape, 100).Should().Be(RedisCounterKey.Create(Prefix, "user-8", shape, 100));
        cache.Get(key, RateLimitRule.PerDay(5).ShapeId, 100).Should().Be(RedisCounterKey.Create(Prefix, key, RateLimitRule.PerDay(5).ShapeId, 100));
        cache.Get(key, shape, 101).Should().Be(RedisCounterKey.Create(Prefix, key, shape, 101), "the next window has a name of its own");
        cache.Get(key, shape, 100).Should().Be(RedisCounterKey.Create(Prefix, key, shape, 100), "and the window before keeps its own");
        cache.Get(key, shape, RedisCounterKey.NoWindow).Should().Be(RedisCounterKey.Create(Prefix, key, shape, RedisCounterKey.NoWindow));
        new RedisCounterKeyCache("other:").Get(key, shape, 100).Should().Be(RedisCounterKey.Create("other:", key, shape, 100));
    }

    [Fact]
    public void Get_MoreCountersThanSlots_EveryNameIsRight()
    {
        // Three times as many counters as slots, looked up twice in two orders: slots are shared and overwritten, and
        // every answer must still be its own counter's name.
        RedisCounterKeyCache cache = new(Prefix);
        string[] shapes = [RateLimitRule.PerHour(5).ShapeId, RateLimitRule.PerDay(5).ShapeId, RateLimitRule.PerMinute(5).ShapeId];
        string[] keys = [.. Enumerable.Range(0, RedisCounterKeyCache.Slots).Select(i => "k" + i)];
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < keys.Length; i++)
            {
                int k = pass == 0 ? i : keys.Length - 1 - i;
                foreach (string shape in shapes)
                {
                    cache.Get(keys[k], shape, pass).Should().Be(RedisCounterKey.Create(Prefix, keys[k], shape, pass));
                }
            }
        }
    }

    [Fact]
    public void Get_AGuardsCountersOverAThousandRecipientsInTurn_MostAreFoundAgain()
    {
        // A guard check names six counters: global, tenant and sender always the same, a user of 64, a recipient of
        // 1,000 and its domain of 50; checks cycle through the recipients. Direct-mapped over 2,048 slots, about four
        // counters in ten shared a slot with another used in between and were built again on every check.
        RedisCounterKeyCache cache = new(Prefix);
        string shape = RateLimitRule.PerHour(5).ShapeId;
        string[] keys = [.. new[] { "global", "tenant:acme", "sender:noreply@app.example" }
            .Concat(Enumerable.Range(0, 64).Select(i => "user:" + i))
            .Concat(Enumerable.Range(0, 1_000).Select(i => "recipient:customer" + i))
            .Concat(Enumerable.Range(0, 50).Select(i => "domain:example" + i))];
        string[] names = [.. keys.Select(k => cache.Get(k, shape, RedisCounterKey.NoWindow))];

        int found = keys.Select((k, i) => ReferenceEquals(cache.Get(k, shape, RedisCounterKey.NoWindow), names[i]) ? 1 : 0).Sum();

        found.Should().BeGreaterThan(keys.Length * 8 / 10, "about nine in ten counters keep their own way of a set");
    }

    [Fact]
    public async Task Get_ConcurrentCallersOnSharedSlots_EveryNameIsRight()
    {
        RedisCounterKeyCache cache = new(Prefix);
        string shape = RateLimitRule.PerHour(5).ShapeId;
        string[] keys = [.. Enumerable.Range(0, 3 * RedisCounterKeyCache.Slots).Select(i => "k" + i)];
        string[] expected = [.. keys.Select(k => RedisCounterKey.Create(Prefix, k, shape, RedisCounterKey.NoWindow))];
        int wrong = 0;

        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            Random random = new(t);
            for (int n = 0; n < 200_000; n++)
            {
                int i = random.Next(keys.Length);
                if (!string.Equals(cache.Get(keys[i], shape, RedisCounterKey.NoWindow), expected[i], StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })));

        wrong.Should().Be(0);
    }
}
