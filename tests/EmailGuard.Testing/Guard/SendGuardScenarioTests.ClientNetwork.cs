using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using EmailGuard;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// A bot that rents an IPv4 /24 sends from its 256 addresses: with <see cref="SendGuardOptions.IPv4PrefixLength"/> 24
/// they are one client of the client-IP rules, on every store and across instances.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    private static IPAddress InRentedSlash24(int host) => IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"203.0.113.{host}"));

    private static OutboundEmail FromClient(IPAddress ip, int i)
        => new() { To = [string.Create(CultureInfo.InvariantCulture, $"victim{i}@example.com")], ClientIp = ip };

    [Fact]
    public async Task ClientNetwork_BotRotatingThroughASlash24_GetsTheClientCapOnce()
    {
        SendGuardHarness h = Create(o =>
        {
            o.IPv4PrefixLength = 24;
            o.ClientIp.Add(RateLimitRule.PerHour(5));
        });

        int allowed = 0;
        EmailSendDecision last = default;
        for (int host = 1; host <= 254; host++)
        {
            last = await h.Guard.CheckAsync(FromClient(InRentedSlash24(host), host));
            allowed += last.IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(5);
        last.Dimension.Should().Be(EmailGuardDimension.ClientIp);
        last.Partition.Should().Be("203.0.113.0/24");
        (await h.Guard.CheckAsync(FromClient(IPAddress.Parse("203.0.114.9"), 0))).IsAllowed.Should().BeTrue("the next /24 is another client");
        IReadOnlyList<EmailSendRuleUsage> usage = await h.UsageAsync(new EmailGuardStatusQuery { ClientIp = InRentedSlash24(200) });
        usage.Should().ContainSingle(u => u.Dimension == EmailGuardDimension.ClientIp)
            .Which.Should().Match<EmailSendRuleUsage>(u => u.Partition == "203.0.113.0/24" && u.Count == 5, "an address the bot never used reports its network's usage");
    }

    [Fact]
    public async Task ClientNetwork_DefaultPrefix_EachIPv4AddressGetsItsOwnCap()
    {
        SendGuardHarness h = Create(o => o.ClientIp.Add(RateLimitRule.PerHour(5)));

        int allowed = 0;
        for (int host = 1; host <= 254; host++)
        {
            for (int i = 0; i < 6; i++)
            {
                allowed += (await h.Guard.CheckAsync(FromClient(InRentedSlash24(host), i))).IsAllowed ? 1 : 0;
            }
        }

        allowed.Should().Be(254 * 5);
        (await h.CountAsync(new EmailGuardStatusQuery { ClientIp = InRentedSlash24(200) }, EmailGuardDimension.ClientIp)).Should().Be(5);
    }

    [Fact]
    public async Task ClientNetwork_ConcurrentCallersFromOneSlash24OnSeveralInstances_AdmitExactlyTheCap()
    {
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(3, o =>
        {
            o.IPv4PrefixLength = 24;
            o.ClientIp.Add(RateLimitRule.PerHour(25));
        });
        ConcurrentBag<int> admitted = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, 254), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            if ((await instances[i % instances.Count].Guard.CheckAsync(FromClient(InRentedSlash24(i + 1), i), ct)).IsAllowed)
            {
                admitted.Add(i);
            }
        });

        admitted.Should().HaveCount(25);
        (await instances[1].CountAsync(new EmailGuardStatusQuery { ClientIp = InRentedSlash24(77) }, EmailGuardDimension.ClientIp)).Should().Be(25);
    }
}
