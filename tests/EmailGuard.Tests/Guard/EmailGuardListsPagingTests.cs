using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// <see cref="IEmailGuardLists.ListAsync"/> pages through a list by keeping only the entries up to the page's end: the
/// same pages as sorting the whole list, at the cost of the page, since the dashboard lists a suppression list of any
/// size on every view.
/// </summary>
public sealed class EmailGuardListsPagingTests
{
    [Fact]
    public async Task EveryOrderDirectionAndPage_IsThePageOfTheWholeListSorted()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(time: time);
        IEmailGuardStateStore store = sp.GetRequiredService<IEmailGuardStateStore>();
        Random random = new(20261205);
        List<EmailGuardListEntry> written = [];
        for (int i = 0; i < 300; i++)
        {
            // Few distinct creation times, expiries and reasons, so that many entries tie on the sort key.
            EmailGuardListEntry entry = new()
            {
                Kind = random.Next(5) == 0 ? EmailGuardListKind.Allowlist : EmailGuardListKind.Blocklist,
                PartyType = random.Next(3) == 0 ? EmailGuardPartyType.RecipientDomain : EmailGuardPartyType.Recipient,
                Value = $"v{random.Next(1_000):D4}@example.org",
                Reason = random.Next(3) switch { 0 => "bounce", 1 => "Bounce", _ => "complaint" },
                CreatedAt = SendGuardTestServices.Start.AddMinutes(random.Next(10)),
                ExpiresAt = random.Next(3) == 0 ? null : SendGuardTestServices.Start.AddHours(random.Next(1, 4)),
            };
            await store.UpsertListEntryAsync(entry, default);
            written.RemoveAll(e => e.Kind == entry.Kind && e.PartyType == entry.PartyType && e.Value == entry.Value);
            written.Add(entry);
        }

        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        foreach (EmailGuardListOrder order in Enum.GetValues<EmailGuardListOrder>())
        {
            foreach (bool? descending in new bool?[] { null, false, true })
            {
                foreach ((int skip, int take) in new[] { (0, 1), (0, 50), (7, 13), (40, 50), (100, 1_000), (230, 50), (0, 1_000), (500, 10) })
                {
                    EmailGuardListQuery query = new() { OrderBy = order, Descending = descending, Skip = skip, Take = take };
                    EmailGuardListPage page = await lists.ListAsync(query);
                    List<EmailGuardListEntry> expected = WholeListSorted(written.Where(e => e.Kind == EmailGuardListKind.Blocklist), query);

                    page.TotalCount.Should().Be(expected.Count);
                    page.Items.Select(Describe).Should().Equal(expected.Skip(skip).Take(take).Select(Describe), $"{order}, descending {descending}, skip {skip}, take {take}");
                }
            }
        }
    }

    [Fact]
    public async Task AFirstPageOfAHundredThousandEntries_DoesNotCopyOrSortTheList()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(time: time);
        IEmailGuardStateStore store = sp.GetRequiredService<IEmailGuardStateStore>();
        for (int i = 0; i < 100_000; i++)
        {
            await store.UpsertListEntryAsync(
                new EmailGuardListEntry
                {
                    Kind = EmailGuardListKind.Blocklist,
                    PartyType = EmailGuardPartyType.Recipient,
                    Value = $"r{i}@example.org",
                    Reason = "bounce",
                    CreatedAt = SendGuardTestServices.Start.AddSeconds(i % 977),
                },
                default);
        }

        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        EmailGuardListQuery query = new() { Take = 50 };
        EmailGuardListPage first = await lists.ListAsync(query);

        // Counted on this thread: other tests run beside this one in the process.
        long before = GC.GetAllocatedBytesForCurrentThread();
        ValueTask<EmailGuardListPage> listing = lists.ListAsync(query);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        listing.IsCompleted.Should().BeTrue("the snapshot is current, so the listing ran on this thread and its allocations are counted");
        EmailGuardListPage again = await listing;

        first.TotalCount.Should().Be(100_000);
        again.Items.Select(Describe).Should().Equal(first.Items.Select(Describe));
        again.Items[0].CreatedAt.Should().Be(SendGuardTestServices.Start.AddSeconds(976), "newest first");
        allocated.Should().BeLessThan(500_000, "a sorted copy of 100,000 entries and their keys is about 2.8 MB; a page is a few KB");
    }

    /// <summary>The order the listing documents: the sort key, then party type and value, by sorting everything.</summary>
    private static List<EmailGuardListEntry> WholeListSorted(IEnumerable<EmailGuardListEntry> entries, EmailGuardListQuery query)
    {
        DateTimeOffset now = SendGuardTestServices.Start;
        IEnumerable<EmailGuardListEntry> active = entries.Where(e => e.IsActive(now));
        bool descending = query.Descending ?? query.OrderBy == EmailGuardListOrder.CreatedAt;
        IOrderedEnumerable<EmailGuardListEntry> ordered = query.OrderBy switch
        {
            EmailGuardListOrder.Value => descending ? active.OrderByDescending(e => e.Value, StringComparer.Ordinal) : active.OrderBy(e => e.Value, StringComparer.Ordinal),
            EmailGuardListOrder.ExpiresAt => descending ? active.OrderByDescending(e => e.ExpiresAt ?? DateTimeOffset.MaxValue) : active.OrderBy(e => e.ExpiresAt ?? DateTimeOffset.MaxValue),
            EmailGuardListOrder.Reason => descending ? active.OrderByDescending(e => e.Reason, StringComparer.OrdinalIgnoreCase) : active.OrderBy(e => e.Reason, StringComparer.OrdinalIgnoreCase),
            _ => descending ? active.OrderByDescending(e => e.CreatedAt) : active.OrderBy(e => e.CreatedAt),
        };
        return [.. ordered.ThenBy(e => e.PartyType).ThenBy(e => e.Value, StringComparer.Ordinal)];
    }

    private static string Describe(EmailGuardListEntry entry) => $"{entry.PartyType}:{entry.Value}:{entry.Reason}:{entry.CreatedAt:O}:{entry.ExpiresAt:O}";
}
