using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The dashboard lists recipient domains by registrable domain, and finding one normalizes the domain and reads the
/// Public Suffix List: it is remembered, so a check to a domain seen before does none of that work (and none of it
/// inside the activity lock), and what is remembered stays bounded under a rotation over fresh domains.
/// </summary>
public sealed class RecipientDomainNamesTests
{
    [Fact]
    public async Task RecordCheck_ToADomainSeenBefore_AllocatesNothingForItsDomains()
    {
        // Arrange: an admitted decision, and the same message counted until every party's counter exists.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero));
        await using DashboardHost host = await DashboardHost.StartAsync(time: time);
        OutboundEmail message = new() { Sender = "app@shop.example", To = ["a@X1.Victim.com", "b@mail.shop.co.uk", "c@x2.victim.com"], TenantId = "acme" };
        EmailSendDecision decision = await host.Services.GetRequiredService<IEmailSendGuard>().CheckAsync(message);
        decision.IsAllowed.Should().BeTrue();
        RecentActivity activity = new(time, capacity: 100);
        for (int i = 0; i < 3; i++)
        {
            activity.RecordCheck(message, decision);
        }

        // Act
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            activity.RecordCheck(message, decision);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert: before, every check cut, normalized and looked up each domain again (some 224 bytes each) and kept
        // the distinct ones in a new set; now a hundred checks allocate less than one such domain did.
        allocated.Should().BeLessThan(224);
        activity.Top(ActivityDimension.RecipientDomain, denials: false, 10)
            .Should().BeEquivalentTo([new TopParty("victim.com", 103, 0), new TopParty("shop.co.uk", 103, 0)]);
    }

    [Fact]
    public void Get_UnderARotationOverFreshDomains_StaysBounded_AndAnswersAlike()
    {
        // Arrange
        RecipientDomainNames names = new();

        // Act: more fresh domains than are remembered, in cases an attacker varies.
        List<string> answers = [];
        for (int i = 0; i < RecipientDomainNames.Capacity + 1_000; i++)
        {
            answers.Add(names.Get(i % 2 == 0 ? $"x{i}.Victim.COM" : $"x{i}.victim.com"));
            names.Count.Should().BeLessThanOrEqualTo(RecipientDomainNames.Capacity);
        }

        // Assert: every answer is the registrable domain; one that is not a valid domain is listed in lower case.
        answers.Should().AllBe("victim.com");
        names.Get("x1.a.b.shop.co.uk").Should().Be("shop.co.uk");
        names.Get("Not A Domain!").Should().Be("not a domain!");
    }

    [Theory]
    [InlineData(true, new[] { "gmail.com:3" })]
    [InlineData(false, new[] { "googlemail.com:2", "gmail.com:1" })]
    public async Task TopRecipientDomains_ListAProviderAliasDomain_AsTheGuardCountsIt(bool foldProviderAliases, string[] rows)
    {
        // Arrange: a domain cap, and mail to Gmail under its alias domain and its own.
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.Configure<SendGuardOptions>(o =>
        {
            o.AddressNormalization.FoldProviderAliases = foldProviderAliases;
            o.RecipientDomain.Add(RateLimitRule.PerHour(50));
        }));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();

        // Act
        EmailSendDecision last = default;
        foreach (string to in new[] { "a@googlemail.com", "b@GoogleMail.com", "c@gmail.com" })
        {
            last = await guard.CheckAsync(new OutboundEmail { To = [to] });
        }

        // Assert: the rows are the guard's RecipientDomain partitions. Before, the dashboard listed googlemail.com apart
        // from gmail.com while the guard counted both as gmail.com, so the row's status lookup read no counter.
        host.Services.GetRequiredService<EmailGuardMonitor>().Activity.Top(ActivityDimension.RecipientDomain, denials: false, 10)
            .Select(p => $"{p.Key}:{p.Count}").Should().Equal(rows);
        last.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.RecipientDomain).Partition.Should().Be("gmail.com");
    }
}
