using System.Collections;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// An attacker who fills a "share by email" form sends up to four times <see cref="SendGuardOptions.MaxRecipientsPerMessage"/>
/// distinct addresses (more is refused from the count alone). The guard used to parse, normalize and hash every one
/// of them, and compare each with every distinct one before it, before it found the message too large: thousands of
/// parses and millions of comparisons for one refusal. Now it stops at the first recipient past the bound.
/// </summary>
public sealed class HostileRecipientListTests
{
    private const int Max = 1_000;

    [Fact]
    public async Task Check_FourTimesMaxDistinctRecipients_ReadsNoMoreThanMaxPlusOne()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(1_000_000));
            o.MaxRecipientsPerMessage = Max;
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        CountingList to = new(Enumerable.Range(0, 4 * Max).Select(i => string.Create(CultureInfo.InvariantCulture, $"user{i}@example.com")).ToArray());

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = to });

        decision.Reason.Should().Be(EmailSendReason.TooManyRecipients);
        decision.Detail.Should().Contain($"at most {Max} are allowed");
        to.Reads.Should().BeLessThanOrEqualTo(Max + 1, "the recipient past the bound decides; before, all 4,000 were parsed and compared");
    }

    [Fact]
    public async Task Check_ManyRepeatsOfFewAddresses_CountsEachOnce()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Recipient.Add(RateLimitRule.PerHour(1));
            o.MaxRecipientsPerMessage = Max;
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string[] distinct = [.. Enumerable.Range(0, Max).Select(i => string.Create(CultureInfo.InvariantCulture, $"user{i}@example.com"))];
        string[] repeated = [.. distinct, .. distinct.Select(a => a.ToUpperInvariant()), .. distinct.Take(Max / 2)];

        EmailSendDecision first = await guard.CheckAsync(new OutboundEmail { To = repeated });
        EmailSendDecision again = await guard.CheckAsync(new OutboundEmail { To = [distinct[Max - 1]] });

        first.IsAllowed.Should().BeTrue("2,500 entries are 1,000 distinct recipients, each taking one permit");
        again.Reason.Should().Be(EmailSendReason.LimitExceeded, "the last distinct recipient was counted");
    }

    private sealed class CountingList(string[] items) : IReadOnlyList<string>
    {
        public int Reads { get; private set; }

        public int Count => items.Length;

        public string this[int index]
        {
            get
            {
                Reads++;
                return items[index];
            }
        }

        public IEnumerator<string> GetEnumerator()
        {
            foreach (string item in items)
            {
                Reads++;
                yield return item;
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
