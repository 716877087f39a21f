using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The recipient-domain cap counts a registrable domain: one wildcard MX answers for every name under
/// <c>victim.com</c>, so mail to <c>a1@x1.victim.com</c>, <c>a2@x2.victim.com</c> … reaches one receiver, and a bucket
/// per subdomain would let a sender rotate names past the cap.
/// </summary>
public sealed class RecipientDomainGroupingTests
{
    private const int Cap = 5;

    [Fact]
    public async Task Check_RotatingSubdomains_AdmitsExactlyTheCapOfTheRegistrableDomain()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(Cap)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        int admitted = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 50; i++)
        {
            last = await guard.CheckAsync(new OutboundEmail { To = [string.Create(CultureInfo.InvariantCulture, $"a{i}@x{i}.victim.com")] });
            admitted += last.IsAllowed ? 1 : 0;
        }

        admitted.Should().Be(Cap, "every subdomain counts against victim.com");
        last.Reason.Should().Be(EmailSendReason.LimitExceeded);
        last.Dimension.Should().Be(EmailGuardDimension.RecipientDomain);
        last.Partition.Should().Be("victim.com", "the denial names the counter that denied");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@victim.com"] })).IsAllowed.Should().BeFalse("the domain itself shares the bucket");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@notvictim.com"] })).IsAllowed.Should().BeTrue("a domain that only ends in the same letters is another");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@victim.com.example.net"] })).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Check_RotatingSubdomainsFromConcurrentCallers_AdmitsExactlyTheCap()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(20)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision[] decisions = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
            await guard.CheckAsync(new OutboundEmail { To = [string.Create(CultureInfo.InvariantCulture, $"a{i}@x{i % 97}.y{i}.victim.co.uk")] }))));

        decisions.Count(d => d.IsAllowed).Should().Be(20);
        decisions.Where(d => !d.IsAllowed).Should().OnlyContain(d => d.Dimension == EmailGuardDimension.RecipientDomain && d.Partition == "victim.co.uk");
    }

    [Theory]
    [InlineData("a@mail.victim.duckdns.org", "b@other.duckdns.org", "duckdns.org")]
    [InlineData("a@one.blogspot.com", "b@two.blogspot.com", "blogspot.com")]
    [InlineData("a@x.foo.co.uk", "b@foo.co.uk", "foo.co.uk")]
    [InlineData("a@www.city.kobe.jp", "b@city.kobe.jp", "city.kobe.jp")]
    [InlineData("a@b.c.kobe.jp", "b@a.b.c.kobe.jp", "b.c.kobe.jp")]
    [InlineData("a@mail.example.unknowntld", "b@example.unknowntld", "example.unknowntld")]
    [InlineData("a@mail.пример.рф", "b@xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai")]
    [InlineData("a@X1.Victim.COM.", "b@victim.com", "victim.com")]
    [InlineData("a@co.uk", "b@co.uk", "co.uk")]
    public async Task Check_TwoDomainsWithOneRegistrableDomain_ShareOneBucket(string first, string second, string partition)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(1)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision admitted = await guard.CheckAsync(new OutboundEmail { To = [first] });
        EmailSendDecision denied = await guard.CheckAsync(new OutboundEmail { To = [second] });

        admitted.IsAllowed.Should().BeTrue();
        admitted.Usage.ToArray().Should().ContainSingle(u => u.Dimension == EmailGuardDimension.RecipientDomain).Which.Partition.Should().Be(partition);
        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        denied.Partition.Should().Be(partition);
    }

    [Fact]
    public async Task Check_ABarePublicSuffix_IsABucketApartFromTheDomainsUnderIt()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(1)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail { To = ["a@co.uk"] })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["a@foo.co.uk"] })).IsAllowed.Should().BeTrue("foo.co.uk is its own registrable domain");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@bar.co.uk"] })).IsAllowed.Should().BeTrue();
        EmailSendDecision under = await guard.CheckAsync(new OutboundEmail { To = ["a@mail.foo.co.uk"] });
        under.IsAllowed.Should().BeFalse("mail.foo.co.uk counts against foo.co.uk, not co.uk");
        under.Partition.Should().Be("foo.co.uk");
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task Check_TwoSubdomainsInOneMessage_CountTheSharedBucketAsOneDomainDoes(bool countEach, long expected)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.RecipientDomain.Add(RateLimitRule.PerHour(10));
            o.CountEachRecipientAgainstDomain = countEach;
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision split = await guard.CheckAsync(new OutboundEmail { To = ["a@x1.victim.com", "b@x2.victim.com"] });
        EmailSendDecision one = await guard.CheckAsync(new OutboundEmail { To = ["a@other.example", "b@other.example"] });

        EmailSendRuleUsage domain = split.Usage.ToArray().Should().ContainSingle(u => u.Dimension == EmailGuardDimension.RecipientDomain).Subject;
        domain.Partition.Should().Be("victim.com");
        domain.Count.Should().Be(expected);
        one.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.RecipientDomain).Count.Should().Be(expected, "as two recipients at one domain");
    }

    [Fact]
    public async Task GetStatus_ARecipientAtASubdomain_ShowsItsRegistrableDomainCounter()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(Cap)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@x1.victim.com"] });
        await guard.CheckAsync(new OutboundEmail { To = ["b@x2.victim.com"] });

        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { Recipient = "c@x3.victim.com" });

        EmailSendRuleUsage domain = status.Usage.Should().ContainSingle(u => u.Dimension == EmailGuardDimension.RecipientDomain).Subject;
        domain.Partition.Should().Be("victim.com");
        domain.Count.Should().Be(2);
        domain.Remaining.Should().Be(Cap - 2);
    }

    [Fact]
    public async Task Refund_ARotatedSubdomain_GivesThePermitBackToTheRegistrableDomain()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(1)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision first = await guard.CheckAsync(new OutboundEmail { To = ["a@x1.victim.com"] });
        (await guard.CheckAsync(new OutboundEmail { To = ["b@x2.victim.com"] })).IsAllowed.Should().BeFalse();
        await guard.RefundAsync(first);

        (await guard.CheckAsync(new OutboundEmail { To = ["b@x2.victim.com"] })).IsAllowed.Should().BeTrue("the refund gave victim.com its permit back");
    }
}
