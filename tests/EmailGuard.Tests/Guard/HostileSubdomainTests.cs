using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A blocked recipient domain's owner can make up names under it without end (a wildcard MX record answers for every
/// one of them), so a blocklist entry for a domain must reach every domain under it.
/// </summary>
public sealed class HostileSubdomainTests
{
    [Theory]
    [InlineData("victim@mail.blocked.example")]
    [InlineData("victim@a1.blocked.example")]
    [InlineData("victim@x.y.z.blocked.example")]
    [InlineData("Victim@MAIL.Blocked.Example.")]
    public async Task Blocklist_ADomain_BlocksEveryDomainUnderIt(string recipient)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "blocked.example", "abuse_report");
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [recipient] });

        decision.Reason.Should().Be(EmailSendReason.Blocklisted);
        decision.Dimension.Should().Be(EmailGuardDimension.RecipientDomain);
        decision.Detail.Should().Be("Blocklisted: abuse_report");
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, recipient[(recipient.IndexOf('@') + 1)..]))!
            .Value.Should().Be("blocked.example", "the entry in force for a domain under a blocked one is the blocked one's");
    }

    [Theory]
    [InlineData("someone@blocked.example.org")]
    [InlineData("someone@notblocked.example")]
    [InlineData("someone@example.blocked")]
    public async Task Blocklist_ADomain_LeavesDomainsThatOnlyShareItsLetters(string recipient)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build();
        await sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "blocked.example", "abuse_report");

        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [recipient] });

        decision.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Blocklist_ANearerEntryExpired_TheBroaderOneStillBlocks()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(time: time);
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "mail.blocked.example", "bounces", TimeSpan.FromMinutes(5));
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "blocked.example", "abuse_report");
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision early = await guard.CheckAsync(new OutboundEmail { To = ["a@mail.blocked.example"] });
        time.Advance(TimeSpan.FromMinutes(6));
        EmailSendDecision late = await guard.CheckAsync(new OutboundEmail { To = ["a@mail.blocked.example"] });

        early.Detail.Should().Be("Blocklisted: bounces", "the nearest entry in force answers");
        late.Detail.Should().Be("Blocklisted: abuse_report");
    }

    [Fact]
    public async Task Blocklist_RemovedDomain_NoLongerBlocksTheDomainsUnderIt()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "blocked.example", "abuse_report");
        await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "blocked.example");

        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["a@mail.blocked.example"] });

        decision.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Allowlist_ADomain_DoesNotReachTheDomainsUnderIt()
    {
        // An allowlist entry lifts caps: it names the one domain it was written for, never names someone can make up.
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.RecipientDomain.Add(RateLimitRule.PerHour(1)));
        await sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.RecipientDomain, "partner.example", "partner");
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail { To = ["a@partner.example"] })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["b@partner.example"] })).IsAllowed.Should().BeTrue("the allowlisted domain skips its cap");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@x.partner.example"] })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["b@x.partner.example"] })).IsAllowed.Should().BeFalse("a domain under an allowlisted one is capped");
    }
}
