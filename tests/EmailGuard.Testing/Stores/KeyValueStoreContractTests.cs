using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// The behaviour every <see cref="IEmailGuardKeyValueStore"/> must have, run once per store: the values it keeps, the
/// claims made with <see cref="IEmailGuardKeyValueStore.GetOrAddAsync"/> and given up with
/// <see cref="IEmailGuardKeyValueStore.RemoveAsync"/>, and the contract of <see cref="KeyValueStoreValidation"/>, whose
/// refusals come before anything is written, so that no caller can write on one store what another refuses.
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
    public async Task Remove_TheExpectedValue_RemovesIt_AndAGetOrAddThenStores()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("remove");
        await store.GetOrAddAsync(key, "holder-a", Ttl);

        bool removed = await store.RemoveAsync(key, "holder-a");
        string? afterRemove = await store.GetAsync(key);
        string? added = await store.GetOrAddAsync(key, "holder-b", Ttl);

        removed.Should().BeTrue();
        afterRemove.Should().BeNull();
        added.Should().BeNull("a removed claim leaves the key free for the next claim");
        (await store.GetAsync(key)).Should().Be("holder-b");
    }

    [Fact]
    public async Task Remove_AnotherValue_LeavesItAlone()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("foreign");
        await store.SetAsync(key, "holder-b", Ttl);

        bool other = await store.RemoveAsync(key, "holder-a");
        bool otherCase = await store.RemoveAsync(key, "HOLDER-B");
        bool prefix = await store.RemoveAsync(key, "holder-");
        bool empty = await store.RemoveAsync(key, string.Empty);

        (other, otherCase, prefix, empty).Should().Be((false, false, false, false), "only the exact value (ordinal) is removed");
        (await store.GetAsync(key)).Should().Be("holder-b");
        (await store.GetOrAddAsync(key, "holder-c", Ttl)).Should().Be("holder-b", "the claim still holds");
    }

    [Fact]
    public async Task Remove_NothingToRemove_ReturnsFalse_AndASecondRemoveToo()
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("gone");
        await store.SetAsync(key, "v", Ttl);

        bool absent = await store.RemoveAsync(NewKey("absent"), "v");
        bool first = await store.RemoveAsync(key, "v");
        bool second = await store.RemoveAsync(key, "v");

        (absent, first, second).Should().Be((false, true, false));
        (await store.GetAsync(key)).Should().BeNull();
    }

    [Fact]
    public async Task Remove_ManyCallersClaimingAndReleasingAtOnce_NeverRemovesAnotherCallersClaim()
    {
        // Alert claims rest on this: a release runs while other instances claim, and one whose claim expired releases
        // after another took it. Each caller claims; the winner holds the claim alone and releases it; every caller also
        // releases with its own value while it holds nothing, which must never remove the holder's claim.
        const int Callers = 16;
        const int Rounds = 20;
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));
        string key = NewKey("claim");
        int holders = 0;
        int overlaps = 0;
        int wins = 0;
        int releasedByHolder = 0;
        int releasedByOthers = 0;

        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            string me = $"caller-{caller}";
            for (int round = 0; round < Rounds; round++)
            {
                if (await store.GetOrAddAsync(key, me, Ttl) is null)
                {
                    Interlocked.Increment(ref wins);
                    if (Interlocked.Increment(ref holders) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    // Held across a real wait, so that the other callers claim and release meanwhile on any store.
                    await Task.Delay(1);
                    Interlocked.Decrement(ref holders);
                    if (await store.RemoveAsync(key, me))
                    {
                        Interlocked.Increment(ref releasedByHolder);
                    }
                }
                else if (await store.RemoveAsync(key, me))
                {
                    Interlocked.Increment(ref releasedByOthers);
                }
            }
        })));

        wins.Should().BeGreaterThan(0);
        overlaps.Should().Be(0, "two callers never hold the claim at once");
        releasedByHolder.Should().Be(wins, "no one else removed a holder's claim, so each holder released its own");
        releasedByOthers.Should().Be(0, "a caller that holds nothing removes nothing");
        (await store.GetAsync(key)).Should().BeNull("every claim was released");
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
        bool removedSymbols = await store.RemoveAsync(symbolsKey, " " + printable + " ");

        longKey.Length.Should().Be(KeyValueStoreValidation.MaxKeyLength);
        (await store.GetAsync(longKey)).Should().Be(longValue);
        added.Should().BeNull();
        removedSymbols.Should().BeTrue("a value with every printable character compares equal to itself");
        (await store.GetAsync(symbolsKey)).Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task InvalidKey_IsRefusedByEveryCall_AndNothingIsStored(string key, string why)
    {
        IEmailGuardKeyValueStore store = CreateStore(new FakeTimeProvider(Start));

        Func<Task> set = () => store.SetAsync(key, "v", Ttl).AsTask();
        Func<Task> add = () => store.GetOrAddAsync(key, "v", Ttl).AsTask();
        Func<Task> get = () => store.GetAsync(key).AsTask();
        Func<Task> remove = () => store.RemoveAsync(key, "v").AsTask();

        await set.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        await add.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        await get.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
        await remove.Should().ThrowAsync<ArgumentException>(why).WithParameterName("key");
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
        Func<Task> remove = () => store.RemoveAsync(key, value).AsTask();

        await set.Should().ThrowAsync<ArgumentException>(why).WithParameterName("value");
        await add.Should().ThrowAsync<ArgumentException>(why).WithParameterName("value");
        await remove.Should().ThrowAsync<ArgumentException>(why).WithParameterName("expectedValue");
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
        await FluentActions.Awaiting(() => store.RemoveAsync(null!, "v").AsTask()).Should().ThrowAsync<ArgumentNullException>().WithParameterName("key");
        await FluentActions.Awaiting(() => store.RemoveAsync(key, null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().WithParameterName("expectedValue");
        (await store.GetAsync(key)).Should().BeNull();
    }

    /// <summary>A key unique to this call.</summary>
    /// <param name="name">A readable prefix.</param>
    /// <returns>The key.</returns>
    protected static string NewKey(string name) => $"{name}:{Guid.NewGuid():N}";
}
