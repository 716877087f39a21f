using System.Diagnostics.Metrics;
using EmailGuard.Tests.Feedback;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.Tests.Breakers;

public sealed class RatioBreakerTests
{
    private static FeedbackTestApp App(
        Action<EmailRatioBreakerOptions>? breakers = null, List<EmailRatioBreakerArguments>? trips = null, IMeterFactory? meterFactory = null) => new(
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(1_000)),
        more: s =>
        {
            if (meterFactory is not null)
            {
                s.AddSingleton(meterFactory);
            }

            s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 20;
            o.BounceRateToReduce = 0.02;
            o.BounceRateToSuspend = 0.04;
            o.TripFor = TimeSpan.FromHours(6);
            o.NetworkBouncesToBan = 0;
            if (trips is not null)
            {
                o.OnTripped = args =>
                {
                    trips.Add(args);
                    return ValueTask.CompletedTask;
                };
            }

            breakers?.Invoke(o);
        });
        });

    private static async Task SendAsync(FeedbackTestApp app, int count, string prefix = "r")
    {
        for (int i = 0; i < count; i++)
        {
            (await app.CheckAsync($"{prefix}{i}@example.com")).IsAllowed.Should().BeTrue();
        }
    }

    private static EmailSendAttribution Attribution(string? network = null, string? policy = null)
        => new() { TenantId = "acme", UserId = "user-42", Category = "signup", ClientNetwork = network, EndpointPolicy = policy };

    private static Task<EmailFeedbackResult> BounceAsync(FeedbackTestApp app, string id, EmailSendAttribution? attribution = null)
        => app.Feedback.RecordAsync(FeedbackTestApp.Event(id, recipient: id + "@example.com", attribution: attribution ?? Attribution())).AsTask();

    [Fact]
    public async Task Counts_SendsAtAdmission_AndRatiosOverThem()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, 40);
        await BounceAsync(app, "b1");

        EmailFeedbackCounts tenant = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        EmailFeedbackCounts network = await app.Counts.GetAsync(EmailGuardDimension.ClientIp, "203.0.113.7");
        EmailFeedbackCounts global = (await app.Counts.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" }))[0];

        tenant.Sends.Should().Be(40);
        tenant.Bounces.Should().Be(1);
        tenant.BounceRate.Should().Be(1.0 / 40);
        network.Sends.Should().Be(40);
        global.Sends.Should().Be(40);
        global.BounceRate.Should().Be(1.0 / 40);
    }

    [Fact]
    public async Task Breaker_BelowMinimumSends_DoesNotTripWhateverTheRatio()
    {
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(trips: trips);
        await SendAsync(app, 19);
        for (int i = 0; i < 10; i++)
        {
            await BounceAsync(app, "b" + i);
        }

        trips.Should().BeEmpty();
        (await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme")).Should().BeEmpty();
        (await app.CheckAsync("more@example.com")).IsAllowed.Should().BeTrue();
    }

    [Theory]
    [InlineData(EmailBounceType.Transient)]
    [InlineData(EmailBounceType.Undetermined)]
    public async Task Breaker_RefusalsOfTheMessage_CountAsBounces_WhateverTheProviderCallsThem(EmailBounceType bounce)
    {
        // A tenant whose mail spam filters refuse (SendGrid's transient blocks, Mailgun's temporary espblock, Postmark's
        // SpamNotification) counted them as soft bounces, which no ratio or breaker reads: it tripped nothing.
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(trips: trips);
        await SendAsync(app, 100);

        for (int i = 0; i < 4; i++)
        {
            (await app.Feedback.RecordAsync(new EmailFeedbackEvent
            {
                Provider = "sendgrid",
                ProviderEventId = $"refused{i}",
                Recipient = $"r{i}@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = bounce,
                RejectedForMessage = true,
                Attribution = Attribution(),
            })).SuppressionReason.Should().BeNull("a refusal of the message suppresses no address");
        }

        trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => t.Action).Should().Equal(EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Suspended);
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        (counts.Bounces, counts.TransientBounces).Should().Be((4, 0));
    }

    [Fact]
    public async Task Breaker_BounceRate_ReducesThenSuspends_RaisesEventsAndMeters()
    {
        List<EmailRatioBreakerArguments> trips = [];
        using TestMeterFactory meterFactory = new();
        await using FeedbackTestApp app = App(trips: trips, meterFactory: meterFactory);
        using MetricCollector<long> meter = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.BreakerTripsInstrument);
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();
        await SendAsync(app, 100);

        await BounceAsync(app, "b1");
        trips.Should().BeEmpty("1 % is under the 2 % line");
        await BounceAsync(app, "b2");
        trips.Select(t => (t.Dimension, t.Action, t.Reason)).Should().Equal(
            (EmailGuardDimension.Tenant, EmailRatioBreakerAction.Reduced, EmailGuardFlagReasons.HighBounceRate),
            (EmailGuardDimension.User, EmailRatioBreakerAction.Reduced, EmailGuardFlagReasons.HighBounceRate));
        EmailGuardFlag reduced = (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme"))
            .Where(f => f.Reason == EmailGuardFlagReasons.HighBounceRate).Should().ContainSingle().Subject;
        reduced.Suspend.Should().BeFalse();
        reduced.LimitFactor.Should().Be(0.1);
        reduced.ExpiresAt.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromHours(6));

        await BounceAsync(app, "b3");
        trips.Should().HaveCount(2, "3 % is still the reduced level, and a trip is not re-raised per bounce");
        await BounceAsync(app, "b4");
        trips.Skip(2).Select(t => (t.Dimension, t.Action)).Should().Equal(
            (EmailGuardDimension.Tenant, EmailRatioBreakerAction.Suspended), (EmailGuardDimension.User, EmailRatioBreakerAction.Suspended));
        trips[^1].Counts.BounceRate.Should().Be(0.04);

        EmailSendDecision denied = await app.CheckAsync("next@example.com");
        denied.Reason.Should().Be(EmailSendReason.Suspended);
        denied.Detail.Should().Contain(EmailGuardFlagReasons.HighBounceRate);
        meter.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(4);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2101).Should().Be(4);
    }

    [Fact]
    public async Task Breaker_WithoutHalfOpen_ExpiresAndTripsAgainOnTheNextBounceWhileTheRatioIsHigh()
    {
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(o => o.HalfOpenFor = TimeSpan.Zero, trips);
        await SendAsync(app, 50);
        await BounceAsync(app, "b1");
        trips.Select(t => t.Action).Should().Equal([EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Reduced], "1 in 50 is 2 %");
        await BounceAsync(app, "b2");
        trips.Skip(2).Select(t => t.Action).Should().Equal([EmailRatioBreakerAction.Suspended, EmailRatioBreakerAction.Suspended], "2 in 50 is 4 %");
        (await app.CheckAsync("held@example.com")).Reason.Should().Be(EmailSendReason.Suspended);

        app.Time.Advance(TimeSpan.FromHours(6) + TimeSpan.FromSeconds(1));
        (await app.CheckAsync("probe@example.com")).IsAllowed.Should().BeTrue("the trip expired");

        await BounceAsync(app, "b3");
        trips.Should().HaveCount(6, "the window still holds a high ratio, so the probe's bounce trips it again");
        trips.Skip(4).Select(t => t.Action).Should().Equal(EmailRatioBreakerAction.Suspended, EmailRatioBreakerAction.Suspended);
        (await app.CheckAsync("held-again@example.com")).Reason.Should().Be(EmailSendReason.Suspended);
    }

    [Fact]
    public async Task Breaker_ComplaintRate_TripsWithItsOwnReason()
    {
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(
            o =>
            {
                o.ComplaintRateToReduce = 0.01;
                o.ComplaintRateToSuspend = 0.02;
            },
            trips);
        await SendAsync(app, 100);
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("c1", EmailFeedbackKind.Complained, recipient: "c1@example.com", attribution: Attribution()));

        trips.Select(t => (t.Dimension, t.Action, t.Reason)).Should().Equal(
            (EmailGuardDimension.Tenant, EmailRatioBreakerAction.Reduced, EmailGuardFlagReasons.ComplaintRate),
            (EmailGuardDimension.User, EmailRatioBreakerAction.Reduced, EmailGuardFlagReasons.ComplaintRate));
        (await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme"))
            .Select(f => f.Reason).Should().BeEquivalentTo(["complaint_rate", "complaint_rate_half_open"]);
    }

    [Fact]
    public async Task Breaker_Disabled_CountsButNeverTrips()
    {
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(o => o.Enabled = false, trips);
        await SendAsync(app, 20);
        for (int i = 0; i < 5; i++)
        {
            await BounceAsync(app, "b" + i);
        }

        trips.Should().BeEmpty();
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(5);
    }

    [Fact]
    public async Task CrossLayer_NetworkWhoseSignupMailBouncedTwice_IsBlocklistedForADay()
    {
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(o => o.NetworkBouncesToBan = 2, trips);
        EmailSendAttribution fromBot = Attribution("198.51.100.9/32", "signup");

        await BounceAsync(app, "b1", fromBot);
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.9/32")).Should().BeNull("one bounce is a typo");
        await BounceAsync(app, "b2", fromBot);

        EmailGuardListEntry ban = (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.9/32"))!;
        ban.Should().NotBeNull();
        ban.Reason.Should().Be(EmailGuardFlagReasons.HighBounceRate);
        ban.ExpiresAt.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromDays(1));
        EmailRatioBreakerArguments trip = trips.Should().ContainSingle().Subject;
        trip.Action.Should().Be(EmailRatioBreakerAction.NetworkBanned);
        trip.EndpointPolicy.Should().Be("signup");
        trip.Partition.Should().Be("198.51.100.9/32");

        await BounceAsync(app, "b3", fromBot);
        trips.Should().ContainSingle("an existing ban is not re-added per bounce");
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.10/32")).Should().BeNull("the neighbour is another network");
    }

    [Fact]
    public async Task Validation_SuspendBelowReduce_FailsAtStartWithThePath()
    {
        await using FeedbackTestApp app = App(o => o.BounceRateToSuspend = 0.01);
        Action act = () => app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmailRatioBreakerOptions>>().Value.ToString();
        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*EmailGuard:RatioBreakers:BounceRateToSuspend*");
    }

    [Fact]
    public async Task Breaker_RefundedChecks_DoNotDiluteTheBounceRate()
    {
        // Arrange: a hostile tenant pads its denominator with checks that are refunded, as the provider refusing the
        // mail (or the content inspector rejecting it) refunds them: nothing was sent, no quota is spent.
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(trips: trips);
        for (int i = 0; i < 200; i++)
        {
            EmailSendDecision padding = await app.CheckAsync($"pad{i}@example.com");
            (await app.Guard.RefundAsync(padding)).Should().BeTrue();
        }

        // Act: 40 mails really go out, and 4 of them hard-bounce (10 %, over the 4 % suspension line).
        await SendAsync(app, 40);
        for (int i = 0; i < 4; i++)
        {
            await BounceAsync(app, "b" + i);
        }

        // Assert
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(40, "a refunded check sent nothing, so it is no send in the ratio");
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(40, "nor in the account's");
        trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => t.Action).Should().Contain(EmailRatioBreakerAction.Suspended, "4 bounces in 40 sends is 10 %, not 4 in 240");
    }

    [Fact]
    public async Task Breaker_MessagesToSeveralRecipients_CountEachRecipientAsASend()
    {
        // Arrange: a tenant shares each document with four colleagues. Bounces come back one per recipient, and the
        // providers' bounce rate is per recipient too, so a message to four is four sends in the ratio.
        List<EmailRatioBreakerArguments> trips = [];
        await using FeedbackTestApp app = App(trips: trips);
        for (int i = 0; i < 25; i++)
        {
            OutboundEmail mail = FeedbackTestApp.Mail($"r{i}a@example.com");
            OutboundEmail shared = new()
            {
                To = [.. mail.To, $"r{i}b@example.com"],
                Cc = [$"r{i}c@example.com"],
                Bcc = [$"r{i}d@example.com", $"R{i}D@Example.com"],
                Sender = mail.Sender,
                TenantId = mail.TenantId,
                UserId = mail.UserId,
                Category = mail.Category,
                ClientIp = mail.ClientIp,
            };
            (await app.Guard.CheckAsync(shared)).IsAllowed.Should().BeTrue();
        }

        // Act: one of the 100 recipients hard-bounces (1 %, under the 2 % line).
        await BounceAsync(app, "b1");

        // Assert
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(100, "25 messages to 4 distinct recipients each (the fifth is the fourth again)");
        (await app.Counts.GetAsync(EmailGuardDimension.User, "user-42")).Sends.Should().Be(100);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(100);
        trips.Should().BeEmpty("1 bounce in 100 recipients is 1 %, not 1 in 25 messages (4 %, the suspension line)");
        (await app.CheckAsync("next@example.com")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Breaker_SenderOfMoreThan192Bytes_IsChargedItsBouncesThroughTheEchoedTags_AsAShortSenderIs()
    {
        // Arrange: a valid sender address of 245 characters, a tag of 327. Write left it out (a tag over 256 characters
        // makes the attribution unreadable), so its bounces reached every party but the sender, whose ratio never moved:
        // a sender evaded its breaker with a long address.
        await using FeedbackTestApp app = App();
        string sender = new string('l', 64) + "@" + new string('a', 60) + "." + new string('b', 60) + "." + new string('c', 50) + ".example";
        EmailSendAttribution? sent = null;
        for (int i = 0; i < 40; i++)
        {
            OutboundEmail mail = FeedbackTestApp.Mail($"r{i}@example.com");
            EmailSendDecision decision = await app.Guard.CheckAsync(new OutboundEmail
            {
                To = mail.To,
                Sender = sender.ToUpperInvariant(),
                TenantId = mail.TenantId,
                UserId = mail.UserId,
                Category = mail.Category,
                ClientIp = mail.ClientIp,
            });
            decision.IsAllowed.Should().BeTrue();
            sent = decision.Attribution;
        }

        // Act: two hard bounces (5 %, over the 4 % line) come back with the tags the guarded sender gave the provider.
        IReadOnlyDictionary<string, string> tags = EmailFeedbackTags.Write(sent!);
        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? echoed).Should().BeTrue();
        await BounceAsync(app, "b1", echoed);
        await BounceAsync(app, "b2", echoed);

        // Assert: the sender is charged as the send side counted it, and its breaker warns as it does for a short sender.
        tags.Values.Should().OnlyContain(v => v.Length <= 256, "SES refuses longer tag values, and TryRead refuses them");
        echoed!.Sender.Should().Be(sender);
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Sender, sender);
        counts.Sends.Should().Be(40);
        counts.Bounces.Should().Be(2);
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2102 && r.Message.Contains("Sender", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RatioHighLog_AccountStaysOverTheLines_LoggedAtEachLineAndHourly_NotAtEveryBounce()
    {
        // Arrange: 100 sends. A trial's incident logged 2102 three times per bounce (account, sender, category) on each
        // instance, for as long as the day's window held the bounces.
        await using FeedbackTestApp app = App();
        await SendAsync(app, 100);

        // Act: 10 hard bounces cross the 2 % line at the second and the 4 % line at the fourth; one more an hour later.
        for (int i = 1; i <= 10; i++)
        {
            await BounceAsync(app, "b" + i);
        }

        int withinTheHour = GlobalRatioLines();
        app.Time.Advance(TimeSpan.FromMinutes(61));
        await BounceAsync(app, "b11");

        // Assert
        withinTheHour.Should().Be(2, "the account crossed two lines: reduce at 2 %, suspend at 4 %");
        GlobalRatioLines().Should().Be(3, "still over an hour later, it is logged again");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2102 && r.Message.Contains("Category", StringComparison.Ordinal)).Should().Be(3);

        int GlobalRatioLines() => app.Logs.GetSnapshot().Count(r => r.Id.Id == 2102 && r.Message.Contains("Global", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Breaker_OneMailboxWrittenSeveralWays_CountsASendPerSpelling_AsTheCapsDo()
    {
        // Arrange: v+1@x, v+2@x and v+3@x are one mailbox to the limits and three mails to the provider, which costs
        // three against every cap (efe8ec0). The breakers counted one send, so the three bounces that come back (one per
        // spelling) made a ratio of 3 in 1. The same address in another case stays one mail.
        await using FeedbackTestApp app = App();
        OutboundEmail mail = FeedbackTestApp.Mail("v@example.com");
        OutboundEmail Spellings(string mailbox) => new()
        {
            To = [$"{mailbox}+1@example.com", $"{mailbox}+2@example.com"],
            Cc = [$"{mailbox}+3@example.com", $"{mailbox.ToUpperInvariant()}+1@Example.com"],
            Sender = mail.Sender,
            TenantId = mail.TenantId,
            UserId = mail.UserId,
            Category = mail.Category,
            ClientIp = mail.ClientIp,
        };

        // Act: one message sent, one admitted and refunded (the provider refused it), three bounces of the sent one.
        EmailSendDecision sent = await app.Guard.CheckAsync(Spellings("v"));
        EmailSendDecision refused = await app.Guard.CheckAsync(Spellings("w"));
        (await app.Guard.RefundAsync(refused)).Should().BeTrue();
        for (int i = 1; i <= 3; i++)
        {
            await app.Feedback.RecordAsync(FeedbackTestApp.Event($"b{i}", recipient: $"v+{i}@example.com", attribution: sent.Attribution));
        }

        // Assert
        sent.IsAllowed.Should().BeTrue();
        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });
        status.Usage.Should().Contain(u => u.Dimension == EmailGuardDimension.Tenant && u.Count == 3, "the caps count a mail per spelling");
        foreach ((EmailGuardDimension dimension, string? partition) in new (EmailGuardDimension, string?)[]
        {
            (EmailGuardDimension.Global, null), (EmailGuardDimension.Tenant, "acme"), (EmailGuardDimension.User, "user-42"),
            (EmailGuardDimension.Sender, "noreply@app.example"), (EmailGuardDimension.ClientIp, "203.0.113.7"),
        })
        {
            EmailFeedbackCounts counts = await app.Counts.GetAsync(dimension, partition);
            counts.Sends.Should().Be(3, "{0}: three mails sent, the refunded message's three given back", dimension);
            counts.Bounces.Should().Be(3, "{0}: each spelling bounces on its own", dimension);
        }
    }
}
