using static EmailGuard.Testing.Stores.TestListEntries;

namespace EmailGuard.Tests.State;

/// <summary>
/// The index a catch-up changes in place while checks read it without a lock: a check must see each party as it was
/// before a batch of changes or after it, never unlisted in between.
/// </summary>
public sealed class GuardListIndexTests
{
    [Fact]
    public async Task Apply_OneSpellingRemovedAndAnotherWritten_NeverShowsTheBlockedPartyUnlisted_ToAConcurrentCheck()
    {
        // A party stored in one spelling, then in another (the old one unlisted, the new one listed, as an admin fixing
        // an entry or an older instance's write and a newer one's): it is blocked before the batch and after it. Applying
        // the removals first unlisted every such party until the writes followed, and a check in between admitted mail.
        const int Parties = 500;
        GuardListIndex index = GuardListIndex.Build([.. Enumerable.Range(0, Parties).Select(i => Entry($"Victim{i}@Example.ORG"))], new EmailAddressNormalizationOptions(), null);
        int misses = 0;
        using CancellationTokenSource done = new();
        Task checking = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                for (int i = 0; i < Parties; i++)
                {
                    if (index.Find(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"victim{i}@example.org") is null)
                    {
                        Interlocked.Increment(ref misses);
                    }
                }
            }
        });

        long version = 0;
        for (int round = 0; round < 400 && Volatile.Read(ref misses) == 0; round++)
        {
            (string from, string to) = round % 2 == 0 ? ("Victim{0}@Example.ORG", "victim{0}@example.org") : ("victim{0}@example.org", "Victim{0}@Example.ORG");
            index.Apply(new EmailGuardStateChanges(
                version,
                ++version,
                [.. Enumerable.Range(0, Parties).Select(i => Entry(string.Format(System.Globalization.CultureInfo.InvariantCulture, to, i)))],
                [.. Enumerable.Range(0, Parties).Select(i => new EmailGuardListEntryKey(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, string.Format(System.Globalization.CultureInfo.InvariantCulture, from, i)))],
                []));
        }

        await done.CancelAsync();
        await checking;

        misses.Should().Be(0, "every party was blocked before each batch and after it");
        index.Count.Should().Be(Parties);
    }

    [Fact]
    public void Apply_AKeyBothWrittenAndRemoved_IsWritten()
    {
        // The store contract says an entry written and removed since the version appears once; a store that reports it in
        // both lists gets the entry as written, as applying the removals first always gave.
        GuardListIndex index = GuardListIndex.Build([], new EmailAddressNormalizationOptions(), null);
        index.Apply(new EmailGuardStateChanges(0, 2, [Entry("a@example.org")], [new EmailGuardListEntryKey(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org")], []));

        index.Find(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org").Should().NotBeNull();
    }
}
