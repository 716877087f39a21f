using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// The behaviour every <see cref="IEmailGuardKeyValueStore"/> must have, run once per store: the values it keeps, and
/// the contract of <see cref="KeyValueStoreValidation"/>, whose refusals come before anything is written, so that no
/// caller can write on one store what another refuses.
/// </summary>
/// <remarks>Every test uses keys of its own, so a store shared between tests (Redis) needs no cleanup.</remarks>
public abstract class KeyValueStoreContractTests
{
    /// <summary>The fake clock's start.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    /// <summary>Creates the store under test, reading now from <paramref name="timeProvider"/> where it keeps time itself.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The store.</returns>
    protected abstract IEmailGuardKeyValueStore CreateStore(FakeTimeProvider timeProvider);

    /// <summary>Keys and values just outside the contract, and how each breaks it.</summary>
    public static TheoryData<string, string> InvalidKeys() => new()
    {
        { new string('k', KeyValueStoreValidation.MaxKeyLength + 1), "one character too long" },
        { "with space", "a space" },
        { "tab\tkey", "a control character" },
        { "line\nkey", "a line break" },
        { "caf\u00e9", "non-ASCII" },
        { "del\u007fkey", "DEL" },
        { "\ud83d\ude00", "an emoji" },
    };

    /// <summary>Values outside the contract.</summary>
    public static TheoryData<string, string> InvalidValues() => new()
    {
        { new string('v', KeyValueStoreValidation.MaxValueLength + 1), "one character too long" },
        { "line\nvalue", "a line break" },
        { "cr\rvalue", "a carriage return" },
        { "na\u00efve", "non-ASCII" },
        { "nul\0value", "NUL" },
    };

    [Fact]
    public async Task Set_ThenGet_ReturnsTheValue_AndSetReplacesIt()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("set");

        await store.SetAsync(key, "first value", Ttl);
        string? first = await store.GetAsync(key);
        await store.SetAsync(key, "second", Ttl);

        first.Should().Be("first value");
        (await store.GetAsync(key)).Should().Be("second");
        (await store.GetAsync(NewKey("absent"))).Should().BeNull();
    }

    [Fact]
    public async Task GetOrAdd_KeepsTheFirstLiveValue()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("add");

        string? first = await store.GetOrAddAsync(key, "a", Ttl);
        string? second = await store.GetOrAddAsync(key, "b", Ttl);

        first.Should().BeNull();
        second.Should().Be("a");
        (await store.GetAsync(key)).Should().Be("a");
    }

    [Fact]
    public async Task GetOrAdd_ManyCallersAtOnce_ExactlyOneStores_AndEveryOtherSeesItsValue()
    {
        // Replay protection rests on this: two deliveries of the same webhook token racing must not both be new.
        const int Callers = 64;
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("race");

        string?[] results = await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => Task.Run(async () => await store.GetOrAddAsync(key, $"caller-{i}", Ttl))));

        string winner = (await store.GetAsync(key))!;
        results.Count(r => r is null).Should().Be(1, "exactly one caller stores");
        results.Where(r => r is not null).Should().AllBe(winner, "every other caller sees the value that was stored");
        winner.Should().MatchRegex("^caller-[0-9]+$");
    }

    [Fact]
    public async Task Limits_TheLongestKeyAndValue_AndEveryPrintableCharacter_AreStored()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string printable = new([.. Enumerable.Range('!', '~' - '!' + 1).Select(c => (char)c)]);
        string longKey = NewKey("long").PadRight(KeyValueStoreValidation.MaxKeyLength, 'k');
        string symbolsKey = NewKey("sym") + printable;
        string longValue = (printable + " ").PadRight(KeyValueStoreValidation.MaxValueLength, 'v');

        await store.SetAsync(longKey, longValue, Ttl);
        await store.SetAsync(symbolsKey, " " + printable + " ", Ttl);
        string? added = await store.GetOrAddAsync(NewKey("add").PadRight(KeyValueStoreValidation.MaxKeyLength, '~'), longValue, Ttl);

        longKey.Length.Should().Be(KeyValueStoreValidation.MaxKeyLength);
        (await store.GetAsync(longKey)).Should().Be(longValue);
        (await store.GetAsync(symbolsKey)).Should().Be(" " + printable + " ");
        added.Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task InvalidKey_IsRefusedByEveryCall_AndNothingIsStored(string key, string why)
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));

        Func<Task> set = () => store.SetAsync(key, "v", Ttl).AsTask();
        Func<Task> add = () => store.GetOrAddAsync(key, "v", Ttl).AsTask();
        Func<Task> get = () => store.GetAsync(key).AsTask();

        await set.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        await add.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        await get.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        KeyValueStoreValidation.IsValidKey(key).Should().BeFalse();
    }

    [Theory]
    [MemberData(nameof(InvalidValues))]
    public async Task InvalidValue_IsRefused_AndNothingIsStored(string value, string why)
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("value");

        Func<Task> set = () => store.SetAsync(key, value, Ttl).AsTask();
        Func<Task> add = () => store.GetOrAddAsync(key, value, Ttl).AsTask();

        await set.Should().ThrowAsync<ArgumentException>(why).WithParameterName("value");
        await add.Should().ThrowAsync<ArgumentException>(why).WithParameterName("value");
        (await store.GetAsync(key)).Should().BeNull("a refused write stores nothing");
        KeyValueStoreValidation.IsValidValue(value).Should().BeFalse();
    }

    [Fact]
    public async Task NullOrEmptyArguments_AndANonPositiveTimeToLive_AreRefused()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("args");

        await FluentActions.Awaiting(() => store.SetAsync(string.Empty, "v", Ttl).AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => store.GetAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => store.SetAsync(key, null!, Ttl).AsTask()).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => store.SetAsync(key, "v", TimeSpan.Zero).AsTask()).Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => store.GetOrAddAsync(key, "v", TimeSpan.FromSeconds(-1)).AsTask()).Should().ThrowAsync<ArgumentOutOfRangeException>();
        (await store.GetAsync(key)).Should().BeNull();
    }

    /// <summary>A key unique to this call.</summary>
    /// <param name="name">A readable prefix.</param>
    /// <returns>The key.</returns>
    protected static string NewKey(string name) => $"{name}:{Guid.NewGuid():N}";
}
