using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>The flag history: appended, read newest first, bounded.</summary>
public abstract partial class StateStoreContractTests
{
    [Fact]
    public async Task FlagEvents_AreReadNewestFirst_AtMostMax_WithEveryField()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        for (int n = 0; n < 5; n++)
        {
            await store.AppendFlagEventAsync(Event(n), None);
        }

        IReadOnlyList<EmailGuardFlagEvent> three = await store.GetFlagEventsAsync(3, None);
        IReadOnlyList<EmailGuardFlagEvent> all = await store.GetFlagEventsAsync(100, None);
        IReadOnlyList<EmailGuardFlagEvent> one = await store.GetFlagEventsAsync(1, None);

        three.Select(e => e.PartyId).Should().Equal("party-4", "party-3", "party-2");
        all.Should().BeEquivalentTo([Event(4), Event(3), Event(2), Event(1), Event(0)], o => o.WithStrictOrdering());
        one.Select(e => e.PartyId).Should().Equal("party-4");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task FlagEvents_NoneOrFewerAsked_ReturnsNone(int max)
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.AppendFlagEventAsync(Event(1), None);
        await store.AppendFlagEventAsync(Event(2), None);

        IReadOnlyList<EmailGuardFlagEvent> events = await store.GetFlagEventsAsync(max, None);

        events.Should().BeEmpty("asking for at most {0} events returns none, never all of them", max);
    }

    [Fact]
    public async Task FlagEvents_BeyondTheBound_DropTheOldest()
    {
        const int Extra = 5;
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        for (int n = 0; n < IEmailGuardStateStore.MaxFlagEvents + Extra; n++)
        {
            await store.AppendFlagEventAsync(Event(n), None);
        }

        IReadOnlyList<EmailGuardFlagEvent> events = await store.GetFlagEventsAsync(int.MaxValue, None);

        events.Should().HaveCount(IEmailGuardStateStore.MaxFlagEvents);
        events[0].PartyId.Should().Be($"party-{IEmailGuardStateStore.MaxFlagEvents + Extra - 1}");
        events[^1].PartyId.Should().Be($"party-{Extra}", "the oldest events went first");
    }
}
