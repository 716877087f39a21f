using Microsoft.Extensions.Time.Testing;
using static EmailGuard.Testing.Stores.TestListEntries;

namespace EmailGuard.Tests.State;

/// <summary>
/// The in-memory store's bounded change list: trimmed in bulk, with flag writes between list writes moving the version
/// without a change of their own. A caller from any version either gets every list change after it or is told to load whole.
/// </summary>
public sealed class InMemoryStateStoreChangesTests
{
    private static readonly DateTimeOffset s_start = new(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task LoadChanges_AroundTheTrimmedFloor_IsCompleteOrNull_NeverShort()
    {
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore store = new(time);
        Dictionary<long, HashSet<string>> valuesAfter = [];
        List<(long Version, string? Value)> writes = [];

        // Twice the bound of list writes, each followed by a flag write: the list is trimmed once, half way.
        for (int i = 0; i < 2 * InMemoryEmailGuardStateStore.MaxChanges; i++)
        {
            string value = $"r{i}@example.org";
            await store.UpsertListEntryAsync(Entry(value), CancellationToken.None);
            writes.Add((await store.GetVersionAsync(CancellationToken.None), value));
            await store.UpsertFlagAsync(Flag(i), CancellationToken.None);
            writes.Add((await store.GetVersionAsync(CancellationToken.None), null));
        }

        long version = await store.GetVersionAsync(CancellationToken.None);
        long floor = writes[(2 * (InMemoryEmailGuardStateStore.MaxChanges - 1))].Version;
        List<long> answered = [];
        List<long> refused = [];
        foreach (long since in writes.Select(w => w.Version).Where(v => Math.Abs(v - floor) <= 4 || v >= version - 4).Prepend(0))
        {
            EmailGuardStateChanges? changes = await store.LoadChangesAsync(since, CancellationToken.None);
            if (changes is null)
            {
                refused.Add(since);
                continue;
            }

            answered.Add(since);
            changes.Version.Should().Be(version);
            HashSet<string> expected = [.. writes.Where(w => w.Version > since && w.Value is not null).Select(w => w.Value!)];
            expected.SetEquals(changes.ListEntries.Select(e => e.Value)).Should().BeTrue($"every list write after {since} is there, and no other");
            changes.ListEntries.Should().HaveCount(expected.Count);
        }

        refused.Should().OnlyContain(v => v < floor, "only a caller from before the last trimmed change must load whole");
        refused.Should().Contain([0, floor - 1]);
        answered.Should().Contain([floor, floor + 1, version]);
    }

    private static EmailGuardFlag Flag(int i) => new()
    {
        PartyType = EmailGuardPartyType.Tenant,
        PartyId = $"t{i % 7}",
        Reason = "spam",
        CreatedAt = s_start,
        ExpiresAt = s_start.AddHours(1),
    };
}
