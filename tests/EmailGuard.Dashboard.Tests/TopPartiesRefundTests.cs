using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The overview's top parties by usage count what was sent: a refunded check (the provider refused the mail, a queued
/// mail failed at dequeue) is taken off the parties it was counted for, once, never below zero.
/// </summary>
public sealed class TopPartiesRefundTests
{
    [Fact]
    public async Task Refunds_AreTakenOffEveryParty_Once_AndAPartyRefundedInFullIsNotListed()
    {
        // Arrange: 30 newsletters to two recipients each (2 permits apiece), 5 alerts to one.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using DashboardHost host = await DashboardHost.StartAsync(time: time);
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        RecentActivity activity = host.Services.GetRequiredService<EmailGuardMonitor>().Activity;
        List<EmailSendDecision> bulk = [];
        for (int i = 0; i < 30; i++)
        {
            bulk.Add(await guard.CheckAsync(new OutboundEmail { Sender = "news@shop.example", To = [$"a{i}@example.com", $"b{i}@example.org"], UserId = "bulk", Category = "newsletter" }));
        }

        List<EmailSendDecision> steady = [];
        for (int i = 0; i < 5; i++)
        {
            steady.Add(await guard.CheckAsync(new OutboundEmail { Sender = "ops@shop.example", To = [$"c{i}@example.net"], UserId = "steady", Category = "alert" }));
        }

        // Act: a provider outage refunded 20 of the newsletters (each refund repeated) and every alert.
        List<bool> repeats = [];
        foreach (EmailSendDecision decision in bulk.Take(20))
        {
            (await guard.RefundAsync(decision)).Should().BeTrue();
            repeats.Add(await guard.RefundAsync(decision));
        }

        foreach (EmailSendDecision decision in steady)
        {
            (await guard.RefundAsync(decision)).Should().BeTrue();
        }

        // Assert: what was sent, 10 newsletters of 2 permits.
        repeats.Should().AllBeEquivalentTo(false);
        activity.Top(ActivityDimension.User, denials: false, 10).Should().Equal(new TopParty("bulk", 20, 0));
        activity.Top(ActivityDimension.Sender, denials: false, 10).Should().Equal(new TopParty("news@shop.example", 20, 0));
        activity.Top(ActivityDimension.Category, denials: false, 10).Should().Equal(new TopParty("newsletter", 20, 0));
        activity.Top(ActivityDimension.RecipientDomain, denials: false, 10).Should().Equal(new TopParty("example.com", 10, 0), new TopParty("example.org", 10, 0));
    }

    [Fact]
    public async Task RecipientDomains_RotatedSubdomains_AreListedAsTheirRegistrableDomain_AndRefundedFromIt()
    {
        // Arrange: a bot rotates subdomains of one wildcard-MX domain; the cap counts them as victim.com, and so must the
        // list an operator reads during the incident (before, 12 domains of one mail each, none of them the culprit).
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using DashboardHost host = await DashboardHost.StartAsync(time: time);
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        RecentActivity activity = host.Services.GetRequiredService<EmailGuardMonitor>().Activity;
        List<EmailSendDecision> rotated = [];
        for (int i = 0; i < 12; i++)
        {
            rotated.Add(await guard.CheckAsync(new OutboundEmail { Sender = "app@shop.example", To = [$"a{i}@X{i}.Victim.com"] }));
        }

        await guard.CheckAsync(new OutboundEmail { Sender = "app@shop.example", To = ["b@mail.shop.co.uk", "c@notvictim.com"] });

        // Act: two of the rotated checks are refunded.
        (await guard.RefundAsync(rotated[0])).Should().BeTrue();
        (await guard.RefundAsync(rotated[1])).Should().BeTrue();

        // Assert
        IReadOnlyList<TopParty> domains = activity.Top(ActivityDimension.RecipientDomain, denials: false, 10);
        domains[0].Should().Be(new TopParty("victim.com", 10, 0));
        domains.Should().BeEquivalentTo([new TopParty("victim.com", 10, 0), new TopParty("notvictim.com", 1, 0), new TopParty("shop.co.uk", 1, 0)]);
    }

    [Fact]
    public async Task RefundInALaterBucket_IsTakenOffTheBucketTheCheckWasCountedIn()
    {
        // Arrange: 4 checks at 10:00, 3 at 10:20; at 10:21 the four of 10:00 are refunded.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using DashboardHost host = await DashboardHost.StartAsync(time: time);
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        RecentActivity activity = host.Services.GetRequiredService<EmailGuardMonitor>().Activity;
        List<EmailSendDecision> early = [];
        for (int i = 0; i < 4; i++)
        {
            early.Add(await guard.CheckAsync(Message(i)));
        }

        time.Advance(TimeSpan.FromMinutes(20));
        for (int i = 0; i < 3; i++)
        {
            await guard.CheckAsync(Message(10 + i));
        }

        time.Advance(TimeSpan.FromMinutes(1));
        foreach (EmailSendDecision decision in early)
        {
            (await guard.RefundAsync(decision)).Should().BeTrue();
        }

        IReadOnlyList<TopParty> afterRefund = activity.Top(ActivityDimension.User, denials: false, 10);

        // Act: the 10:00 bucket leaves the hour.
        time.Advance(TimeSpan.FromMinutes(45));

        // Assert: the three of 10:20 are still counted; taken off 10:20, they would have shown none.
        afterRefund.Should().Equal(new TopParty("u", 3, 0));
        activity.Top(ActivityDimension.User, denials: false, 10).Should().Equal(new TopParty("u", 3, 0));

        static OutboundEmail Message(int i) => new() { To = [$"r{i}@example.com"], UserId = "u" };
    }

    [Fact]
    public async Task RefundBeforeTheAppsAsyncOnCheckedEnds_IsTakenOff_WhicheverCallbackEndsFirst()
    {
        // Arrange: the app's OnChecked waits until the test lets it go; a wrapper registered after the dashboard's hook
        // says when the whole chain (the app's callback and the dashboard's record) has ended.
        TaskCompletionSource appGoesOn = new();
        TaskCompletionSource chainEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.Configure<SendGuardOptions>(o => o.Events.OnChecked = async _ => await appGoesOn.Task);
            s.PostConfigure<SendGuardOptions>(o =>
            {
                Func<EmailGuardCheckArguments, ValueTask> chain = o.Events.OnChecked!;
                o.Events.OnChecked = async a =>
                {
                    await chain(a);
                    chainEnded.TrySetResult();
                };
            });
        });
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        RecentActivity activity = host.Services.GetRequiredService<EmailGuardMonitor>().Activity;

        // Act: the provider refuses the mail while the app's OnChecked is still running; then that callback ends.
        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = ["r@example.com"], UserId = "u" });
        (await guard.RefundAsync(decision)).Should().BeTrue();
        IReadOnlyList<TopParty> beforeCallbackEnded = activity.Top(ActivityDimension.User, denials: false, 10);
        appGoesOn.SetResult();
        await chainEnded.Task;

        // Assert: nothing was sent, before and after the app's callback ended.
        beforeCallbackEnded.Should().BeEmpty();
        activity.Top(ActivityDimension.User, denials: false, 10).Should().BeEmpty("the refund came after the check, whenever the app's callback ended");
    }

    [Fact]
    public async Task ConcurrentChecksAndRefunds_CountExactly()
    {
        // Arrange
        await using DashboardHost host = await DashboardHost.StartAsync();
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        RecentActivity activity = host.Services.GetRequiredService<EmailGuardMonitor>().Activity;
        int refundedTwice = 0;

        // Act: 2,000 checks on 8 workers; every other one is refunded by two callers at once.
        await Parallel.ForEachAsync(Enumerable.Range(0, 2_000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { Sender = "flood@shop.example", To = [$"r{i}@example.com"], Category = "share" });
            decision.IsAllowed.Should().BeTrue();
            if (i % 2 == 0)
            {
                bool[] refunded = await Task.WhenAll(Task.Run(() => guard.RefundAsync(decision).AsTask()), Task.Run(() => guard.RefundAsync(decision).AsTask()));
                if (refunded.All(r => r))
                {
                    Interlocked.Increment(ref refundedTwice);
                }
            }
        });

        // Assert
        refundedTwice.Should().Be(0);
        activity.Top(ActivityDimension.Sender, denials: false, 10).Should().Equal(new TopParty("flood@shop.example", 1_000, 0));
        activity.Top(ActivityDimension.Category, denials: false, 10).Should().Equal(new TopParty("share", 1_000, 0));
        activity.Top(ActivityDimension.RecipientDomain, denials: false, 10).Should().Equal(new TopParty("example.com", 1_000, 0));
    }
}
