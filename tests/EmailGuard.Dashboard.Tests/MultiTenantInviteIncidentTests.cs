using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// A new user's trial, built from README.md and docs/ only: a multi-tenant SaaS whose tenants send invitations through
/// the guarded sender, with plans from the app's database (trial 50 a day, paid 5,000 a day), Postmark feedback
/// webhooks, the ratio breakers, the dashboard and a signed alert webhook, two instances on one Redis (a connection
/// each). The incident: a trial tenant's bot invites 2,000 scraped addresses from both instances, 30 % of what goes
/// out hard-bounces and some of it draws complaints; the operator, paged, cuts the tenant's plan and suspends it from
/// the dashboard, while two paying tenants keep inviting their colleagues.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class MultiTenantInviteIncidentTests(RedisServerFixture redis)
{
    private const string AlertSecret = "alert-secret-0123456789";
    private const string PostmarkUser = "postmark";
    private const string PostmarkPassword = "pm-webhook-secret-0123456789";
    private const int Rounds = 20;
    private const int BotInvitesPerRound = 100;
    private const int GoodInvitesPerRound = 5;

    [Fact]
    public async Task RogueTrialTenantFloodsInvites_BreakerSuspendsIt_OperatorCutsAndSuspends_GoodTenantsLoseNothing()
    {
        // Arrange: the plans in the "database", two instances, one alert receiver, Postmark played by the test.
        PlanDatabase plans = new() { ["rogue"] = "trial", ["acme"] = "paid", ["globex"] = "paid" };
        PostmarkOutbox postmark = new();
        string prefix = RedisServerFixture.UniquePrefix();
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost first = await StartAsync("invites-a", prefix, plans, postmark, receiver);
        await using DashboardHost second = await StartAsync("invites-b", prefix, plans, postmark, receiver);
        DashboardHost[] instances = [first, second];
        Dictionary<string, List<EmailSendDecision>> refused = new() { ["rogue"] = [], ["acme"] = [], ["globex"] = [] };
        List<JsonElement> alerts = [];
        int botAddress = 0;
        int feedbackPosted = 0;

        // Act
        for (int round = 0; round < Rounds; round++)
        {
            // The bot posts from both instances at once while the paying tenants invite their colleagues.
            int firstAddress = botAddress;
            botAddress += BotInvitesPerRound;
            Task<List<EmailSendDecision>> botOnFirst = InviteAsync(first, "rogue", Enumerable.Range(firstAddress, BotInvitesPerRound).Where(i => i % 2 == 0).Select(i => $"person{i}@scraped{i % 37}.example"));
            Task<List<EmailSendDecision>> botOnSecond = InviteAsync(second, "rogue", Enumerable.Range(firstAddress, BotInvitesPerRound).Where(i => i % 2 == 1).Select(i => $"person{i}@scraped{i % 37}.example"));
            Task<List<EmailSendDecision>> acme = InviteAsync(first, "acme", Enumerable.Range(round * GoodInvitesPerRound, GoodInvitesPerRound).Select(i => $"colleague{i}@acme.example"));
            Task<List<EmailSendDecision>> globex = InviteAsync(second, "globex", Enumerable.Range(round * GoodInvitesPerRound, GoodInvitesPerRound).Select(i => $"colleague{i}@globex.example"));
            refused["rogue"].AddRange(await botOnFirst);
            refused["rogue"].AddRange(await botOnSecond);
            refused["acme"].AddRange(await acme);
            refused["globex"].AddRange(await globex);

            // Postmark reports what it delivered, what bounced and what drew a complaint, to either instance.
            feedbackPosted = await PostFeedbackAsync(instances, postmark, feedbackPosted);

            if (round == 0)
            {
                // The pager: the breaker suspended the tenant on its bounces (its one page, critical as a suspension is).
                await NextAlertAsync(receiver, alerts, a => a.GetProperty("kind").GetString() == EmailGuardAlertKinds.BreakerTripped && a.GetProperty("severity").GetString() == "critical");

                // The operator cuts the plan in the database, applies it now and suspends the tenant, from the dashboard.
                plans["rogue"] = "restricted";
                using HttpClient operatorClient = second.Client(user: "on-call", roles: "ops");
                string token = await TokenAsync(operatorClient);
                (await PostFormAsync(operatorClient, "/emailguard/tenants/limits/reload", token, ("id", "rogue"))).StatusCode.Should().Be(HttpStatusCode.SeeOther);
                (await PostFormAsync(operatorClient, "/emailguard/flags/apply", token, ("type", "Tenant"), ("id", "rogue"), ("reason", EmailGuardFlagReasons.Manual), ("hours", "72"), ("confirmed", "yes")))
                    .StatusCode.Should().Be(HttpStatusCode.SeeOther);
                (await WaitUntilAsync(async () => await IsSuspendedEverywhereAsync(instances, "rogue"))).Should().BeTrue("every instance applies a suspension within StateRefreshInterval");
            }
        }

        alerts.AddRange(await DrainAlertsAsync(instances, receiver));

        // Assert: what went out, per tenant, at the provider.
        postmark.SentTo("rogue").Should().HaveCount(50, "the trial plan is 50 a day, shared by both instances");
        postmark.SentTo("acme").Should().HaveCount(Rounds * GoodInvitesPerRound);
        postmark.SentTo("globex").Should().HaveCount(Rounds * GoodInvitesPerRound);
        postmark.SentTo("globex").Should().AllSatisfy(m => m.Metadata.Keys.Should().Equal("eg_id"), "its sender does not fit Postmark's 80 characters");
        postmark.SentTo("acme").Should().AllSatisfy(m => m.Metadata.Keys.Should().Contain(["eg_id", "eg_t", "eg_u", "eg_s", "eg_c"]));

        // What was refused, and why.
        refused["acme"].Should().BeEmpty("a paying tenant sending at the same time loses nothing");
        refused["globex"].Should().BeEmpty("a paying tenant sending at the same time loses nothing");
        refused["rogue"].Should().HaveCount((Rounds * BotInvitesPerRound) - 50);
        refused["rogue"].Take(BotInvitesPerRound - 50).Should().AllSatisfy(d =>
        {
            d.Reason.Should().Be(EmailSendReason.LimitExceeded);
            d.Dimension.Should().Be(EmailGuardDimension.Tenant);
        });
        refused["rogue"].Skip(BotInvitesPerRound - 50).Should().AllSatisfy(d => d.Reason.Should().Be(EmailSendReason.Suspended));

        // The breaker tripped on the rogue tenant, not on the paying ones.
        IEmailSendGuard guard = first.Services.GetRequiredService<IEmailSendGuard>();
        EmailPartyRatioStatus rogue = await TenantRatioAsync(guard, "rogue");
        rogue.Counts.Sends.Should().Be(50);
        rogue.Counts.Bounces.Should().Be(15);
        rogue.Counts.Complaints.Should().Be(3);
        rogue.BreakerState.Should().Be(EmailRatioBreakerState.Tripped);
        IReadOnlyList<EmailGuardFlag> rogueFlags = await first.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue");
        rogueFlags.Select(f => f.Reason).Should().Contain([EmailGuardFlagReasons.Manual, EmailGuardFlagReasons.HighBounceRate]);
        foreach (string good in new[] { "acme", "globex" })
        {
            EmailPartyRatioStatus ratio = await TenantRatioAsync(guard, good);
            ratio.Counts.Sends.Should().Be(Rounds * GoodInvitesPerRound);
            ratio.Counts.Bounces.Should().Be(1, "its one bounce reaches it, by its metadata or by its MessageID");
            ratio.BreakerState.Should().Be(EmailRatioBreakerState.Closed, $"{good} bounced {ratio.Counts.Bounces} of {ratio.Counts.Sends}");
            (await first.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, good)).Should().BeEmpty();
        }

        // The cut plan is the tenant's limit now, on both instances: its 5 a day, at the tripped breaker's tenth (the
        // trial's 50 would show 5).
        foreach (DashboardHost instance in instances)
        {
            EmailGuardStatus status = await instance.Services.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "rogue" });
            status.Usage.Where(u => u.Dimension == EmailGuardDimension.Tenant).Select(u => u.Limit).Should().Equal(1);
        }

        // The bot's network is banned from the app's endpoints (NetworkBouncesToBan, 2); the paying tenants' are not.
        IEmailGuardLists lists = first.Services.GetRequiredService<IEmailGuardLists>();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.7/32"))!.Reason.Should().Be(EmailGuardFlagReasons.HighBounceRate);
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.10/32")).Should().BeNull();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "192.0.2.20/32")).Should().BeNull();

        // Every hard bounce and complaint is suppressed for every tenant.
        IReadOnlyDictionary<string, int> reasons = await lists.CountByReasonAsync(EmailGuardListKind.Blocklist);
        reasons.GetValueOrDefault("hard_bounce").Should().Be(17);
        reasons.GetValueOrDefault("complaint").Should().Be(3);

        // The pages: each trip once, as its breaker_tripped alert naming the flag it set (not also as the flag's own
        // alert), whichever instance heard its feedback (the bounce breaker reduced the tenant and its
        // user at the first bounce on one instance and suspended them at the second on the other; the complaint breaker
        // suspended them at the first complaint), the operator's suspension once, and the account-wide breaker once for
        // the risky category "signup", which this app never sends. Nothing about a paying tenant.
        string[] conditions = alerts.Select(a => a.GetProperty("condition").GetString()!).ToArray();
        conditions.Should().BeEquivalentTo(
        [
            "breaker_tripped:Ratio breaker: Tenant rogue limits reduced (high_bounce_rate)",
            "breaker_tripped:Ratio breaker: Tenant rogue suspended (high_bounce_rate)",
            "breaker_tripped:Ratio breaker: User rogue-admin limits reduced (high_bounce_rate)",
            "breaker_tripped:Ratio breaker: User rogue-admin suspended (high_bounce_rate)",
            "breaker_tripped:Ratio breaker: ClientIp 203.0.113.7/32 banned (high_bounce_rate)",
            "breaker_tripped:Ratio breaker: Tenant rogue suspended (complaint_rate)",
            "breaker_tripped:Ratio breaker: User rogue-admin suspended (complaint_rate)",
            "suspended:Tenant:rogue:manual",
            "breaker_tripped:Ratio breaker: Category signup limits reduced (account_bounce_rate)",
        ]);
        alerts.Single(a => a.GetProperty("condition").GetString() == $"suspended:Tenant:rogue:{EmailGuardFlagReasons.Manual}")
            .GetProperty("dashboardUrl").GetString().Should().Be("https://admin.saas.example/emailguard/flags?type=Tenant&id=rogue");
        alerts.Single(a => a.GetProperty("condition").GetString() == "breaker_tripped:Ratio breaker: Tenant rogue suspended (high_bounce_rate)")
            .GetProperty("dashboardUrl").GetString().Should().Be("https://admin.saas.example/emailguard/flags?type=Tenant&id=rogue");

        // The dashboard sums the instances' top parties: the rogue tenant's 1,950 refusals, 975 heard by each.
        using HttpClient viewer = first.Client();
        (await WaitUntilAsync(async () => (await viewer.GetStringAsync("/emailguard")).Contains("Tenants by denials</h3><table><tr><th>Tenants</th><th>Denied</th></tr><tr><td><a href=\"/emailguard/flags?type=Tenant&amp;id=rogue\">rogue</a></td><td class=\"num\">1,950</td>", StringComparison.Ordinal)))
            .Should().BeTrue("each instance publishes its top parties every 15 s");

        // The operator follows the link: the rogue's own lookup shows its manual suspension and its tripped breaker.
        string lookup = await viewer.GetStringAsync("/emailguard/flags?type=Tenant&id=rogue");
        lookup.Should().Contain("<h2>Tenant <span id=\"party-name\">rogue</span></h2>").And.Contain("<td>manual</td><td>suspended</td>");
        lookup.Should().MatchRegex("<table id=\"party-ratios\">.*<td>Tripped \\(Suspended, [a-z_]+\\) until ");

        // Later: the operator lifts every flag of the tenant and its admin. The cut plan still holds it, on both instances.
        IEmailGuardFlags flags = first.Services.GetRequiredService<IEmailGuardFlags>();
        (await flags.ClearAsync(EmailGuardPartyType.Tenant, "rogue", clearedBy: "on-call")).Should().Be(5, "the two trips, their half-open phases and the manual suspension");
        (await flags.ClearAsync(EmailGuardPartyType.User, "rogue-admin", clearedBy: "on-call")).Should().Be(4);
        (await WaitUntilAsync(async () => !await IsSuspendedEverywhereAsync(instances, "rogue", any: true))).Should().BeTrue();
        List<EmailSendDecision> afterClear = [.. await InviteAsync(first, "rogue", ["late1@scraped1.example"]), .. await InviteAsync(second, "rogue", ["late2@scraped2.example"])];
        afterClear.Should().HaveCount(2).And.AllSatisfy(d =>
        {
            d.Reason.Should().Be(EmailSendReason.LimitExceeded);
            d.Dimension.Should().Be(EmailGuardDimension.Tenant);
        });
        postmark.SentTo("rogue").Should().HaveCount(50);
    }

    [Fact]
    public async Task BouncesReachBothInstancesAtOnce_EachTripPagesOnce()
    {
        // Arrange: eight trial tenants' bots each got 100 invites out (a paid plan), on both instances.
        string[] bots = [.. Enumerable.Range(1, 8).Select(n => $"bot{n}")];
        PlanDatabase plans = new();
        foreach (string bot in bots)
        {
            plans[bot] = "paid";
        }

        PostmarkOutbox postmark = new();
        string prefix = RedisServerFixture.UniquePrefix();
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost first = await StartAsync("invites-a", prefix, plans, postmark, receiver);
        await using DashboardHost second = await StartAsync("invites-b", prefix, plans, postmark, receiver);
        DashboardHost[] instances = [first, second];
        foreach (string bot in bots)
        {
            await Task.WhenAll(
                InviteAsync(first, bot, Enumerable.Range(0, 50).Select(i => $"p{i}@{bot}-scraped.example")),
                InviteAsync(second, bot, Enumerable.Range(50, 50).Select(i => $"p{i}@{bot}-scraped.example")));
        }

        // Act: Postmark posts each bot's bounces in a burst that the balancer spreads over both instances, which judge
        // the tenant at the same time (the second bounce reduces it, the fourth suspends it).
        foreach (string bot in bots)
        {
            IReadOnlyList<PostmarkOutbox.Sent> sent = postmark.SentTo(bot);
            for (int pair = 0; pair < 4; pair++)
            {
                await Task.WhenAll(instances.Select((instance, n) => PostRecordAsync(instance, Record(sent[(2 * pair) + n], "Bounce", "HardBounce"))));
            }
        }

        List<JsonElement> alerts = await DrainAlertsAsync(instances, receiver);

        // Assert: each bot's tenant and user reduced once and suspended once, and its network banned once: one page per
        // trip, not one per instance.
        string[] conditions = alerts.Select(a => a.GetProperty("condition").GetString()!).ToArray();
        conditions.Should().OnlyHaveUniqueItems();
        foreach (string bot in bots)
        {
            conditions.Should().Contain(
            [
                $"breaker_tripped:Ratio breaker: ClientIp {ClientIp(bot)}/32 banned (high_bounce_rate)",
                $"breaker_tripped:Ratio breaker: Tenant {bot} limits reduced (high_bounce_rate)",
                $"breaker_tripped:Ratio breaker: Tenant {bot} suspended (high_bounce_rate)",
                $"breaker_tripped:Ratio breaker: User {bot}-admin limits reduced (high_bounce_rate)",
                $"breaker_tripped:Ratio breaker: User {bot}-admin suspended (high_bounce_rate)",
            ]);
        }

        conditions.Should().Contain("breaker_tripped:Ratio breaker: Category signup limits reduced (account_bounce_rate)", "the account's 64 bounces in 800 sends tighten the risky category");
        conditions.Should().HaveCount((bots.Length * 5) + 1, "per bot: tenant and user, reduced and suspended, and its network's ban, each one page; and the account's");
    }

    /// <summary>
    /// Every alert the instances raised so far: each sends its alerts one at a time, in order, so once a sentinel raised
    /// after them arrived, every alert before it has been delivered.
    /// </summary>
    private static async Task<List<JsonElement>> DrainAlertsAsync(DashboardHost[] instances, AlertReceiver receiver)
    {
        foreach (DashboardHost instance in instances)
        {
            instance.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert
            {
                Kind = "sentinel",
                Condition = "sentinel:" + instance.Address,
                Severity = EmailGuardAlertSeverity.Info,
                Title = "sentinel",
                Text = "sentinel",
            });
        }

        List<JsonElement> alerts = [];
        for (int sentinels = 0; sentinels < instances.Length;)
        {
            JsonElement alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
            if (alert.GetProperty("kind").GetString() == "sentinel")
            {
                sentinels++;
            }
            else
            {
                alerts.Add(alert);
            }
        }

        return alerts;
    }

    private static async Task<List<EmailSendDecision>> InviteAsync(DashboardHost instance, string tenant, IEnumerable<string> addresses)
    {
        await Task.Yield();
        IGuardedEmailSender sender = instance.Services.GetRequiredService<IGuardedEmailSender>();
        List<EmailSendDecision> refused = [];
        foreach (string address in addresses)
        {
            GuardedSendResult result = await sender.TrySendAsync(
                new OutboundEmail { Sender = Sender(tenant), To = [address], TenantId = tenant, UserId = $"{tenant}-admin", Category = "invite", ClientIp = ClientIp(tenant) },
                new EmailContent { Subject = $"Join {tenant}", TextBody = "You were invited." });
            if (!result.Sent)
            {
                refused.Add(result.Decision);
            }
        }

        return refused;
    }

    // The address of the request that asked for the invitation: each tenant's people, or bot, in a network of their own.
    private static IPAddress ClientIp(string tenant) => tenant switch
    {
        "acme" => IPAddress.Parse("198.51.100.10"),
        "globex" => IPAddress.Parse("192.0.2.20"),
        "rogue" => IPAddress.Parse("203.0.113.7"),
        _ => IPAddress.Parse($"100.64.{tenant[^1]}.1"),
    };

    // globex sends from an address too long for Postmark's 80-character metadata values: its feedback is attributed by
    // the MessageID the transport returned, as feedback.md says.
    private static string Sender(string tenant) => tenant == "globex"
        ? "team-invitations-no-reply@notifications.globex-corporation-enterprise.saas.example"
        : $"invites@{tenant}.saas.example";

    /// <summary>
    /// Posts Postmark's records for the mail sent since <paramref name="from"/>: of each tenant's mail, in the order it
    /// went out, the rogue tenant's positions 0-2 of every 10 hard-bounce and 5 of every 20 draws a complaint; acme's
    /// and globex's 100th invites bounce; the rest is delivered.
    /// </summary>
    private static async Task<int> PostFeedbackAsync(DashboardHost[] instances, PostmarkOutbox postmark, int from)
    {
        IReadOnlyList<PostmarkOutbox.Sent> sent = postmark.Since(from);
        foreach (PostmarkOutbox.Sent mail in sent)
        {
            string record = (mail.Tenant, mail.Position) switch
            {
                ("rogue", int k) when k % 10 < 3 => Record(mail, "Bounce", "HardBounce"),
                ("rogue", int k) when k % 20 == 5 => Record(mail, "SpamComplaint", "SpamComplaint"),
                ("acme" or "globex", 99) => Record(mail, "Bounce", "HardBounce"),
                _ => Record(mail, "Delivery", null),
            };
            await PostRecordAsync(instances[mail.Index % instances.Length], record);
            if (!record.Contains("\"Delivery\"", StringComparison.Ordinal))
            {
                // Postmark retries (a timeout on its side) and the retry lands on the other instance: recorded once.
                await PostRecordAsync(instances[(mail.Index + 1) % instances.Length], record);
            }
        }

        return from + sent.Count;
    }

    private static async Task PostRecordAsync(DashboardHost instance, string record)
    {
        using HttpClient client = new() { BaseAddress = instance.Address };
        using HttpRequestMessage request = new(HttpMethod.Post, "/emailguard/feedback/postmark") { Content = new StringContent(record, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PostmarkUser}:{PostmarkPassword}")));
        using HttpResponseMessage response = await client.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK, record);
    }

    private static string Record(PostmarkOutbox.Sent mail, string recordType, string? type)
    {
        string now = DateTimeOffset.UtcNow.ToString("O");
        Dictionary<string, object?> record = recordType == "Delivery"
            ? new()
            {
                ["RecordType"] = "Delivery",
                ["ServerID"] = 23,
                ["MessageStream"] = "outbound",
                ["MessageID"] = mail.MessageId,
                ["Recipient"] = mail.To,
                ["DeliveredAt"] = now,
                ["Details"] = "Test delivery webhook details",
                ["Metadata"] = mail.Metadata,
            }
            : new()
            {
                ["RecordType"] = recordType,
                ["MessageStream"] = "outbound",
                ["ID"] = 4_000_000_000L + mail.Index,
                ["Type"] = type,
                ["TypeCode"] = type == "HardBounce" ? 1 : 512,
                ["MessageID"] = mail.MessageId,
                ["Metadata"] = mail.Metadata,
                ["ServerID"] = 23,
                ["Email"] = mail.To,
                ["From"] = mail.From,
                ["BouncedAt"] = now,
                ["Inactive"] = true,
                ["CanActivate"] = true,
                ["Description"] = "The server was unable to deliver your message.",
                ["Details"] = "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            };
        return JsonSerializer.Serialize(record);
    }

    private static async Task<EmailPartyRatioStatus> TenantRatioAsync(IEmailSendGuard guard, string tenant)
    {
        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = tenant });
        return status.Ratios.Single(r => r.Counts.Dimension == EmailGuardDimension.Tenant && r.Counts.Partition == tenant);
    }

    /// <summary>Whether every instance (or, with <paramref name="any"/>, any instance) refuses the tenant as suspended.</summary>
    private static async Task<bool> IsSuspendedEverywhereAsync(DashboardHost[] instances, string tenant, bool any = false)
    {
        foreach (DashboardHost instance in instances)
        {
            EmailSendDecision peek = await instance.Services.GetRequiredService<IEmailSendGuard>().PeekAsync(
                new OutboundEmail { To = ["probe@example.org"], TenantId = tenant, Category = "invite" });
            if ((peek.Reason == EmailSendReason.Suspended) == any)
            {
                return any;
            }
        }

        return !any;
    }

    /// <summary>Waits for an alert <paramref name="wanted"/> describes; every alert read on the way is kept in <paramref name="alerts"/>.</summary>
    private static async Task NextAlertAsync(AlertReceiver receiver, List<JsonElement> alerts, Func<JsonElement, bool> wanted)
    {
        while (true)
        {
            AlertReceiver.Received received = await receiver.NextAsync("webhook");
            EmailGuardWebhookSignature.Verify(AlertSecret, received.Timestamp, received.Signature, received.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5))
                .Should().BeTrue("the receiver checks the signature as operations.md says");
            JsonElement alert = JsonDocument.Parse(received.Body).RootElement;
            alerts.Add(alert);
            if (wanted(alert))
            {
                return;
            }
        }
    }

    private static async Task<string> TokenAsync(HttpClient client)
        => DashboardPage.TokenPattern().Match(await client.GetStringAsync("/emailguard/flags")).Groups[1].Value;

    private static Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, string token, params (string Name, string Value)[] fields)
        => client.PostAsync(path, new FormUrlEncodedContent([new("__RequestVerificationToken", token), .. fields.Select(f => KeyValuePair.Create(f.Name, f.Value))]));

    // State travels between instances every StateRefreshInterval (5 s); bounded far above it.
    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (long started = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(60); await Task.Delay(100))
        {
            if (await condition())
            {
                return true;
            }
        }

        return await condition();
    }

    private Task<DashboardHost> StartAsync(string source, string prefix, PlanDatabase plans, PostmarkOutbox postmark, AlertReceiver receiver)
        => DashboardHost.StartAsync(
            alerts: o =>
            {
                o.Source = source;
                o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
                o.WebhookSecret = AlertSecret;
                o.DashboardUrl = "https://admin.saas.example/emailguard";
            },
            services: s =>
            {
                s.AddSingleton(plans);
                s.AddSingleton(postmark);

                // A loaded machine can take longer than the default 250 ms, which would page an outage and admit unguarded.
                s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromSeconds(5));
                s.AddEmailGuard()
                    .AddRedisStore(o =>
                    {
                        o.Configuration = redis.ConnectionString;
                        o.KeyPrefix = prefix;
                    })
                    .AddTenantLimitProvider<PlanLimits>()
                    .AddGuardedEmailSender<PostmarkTransport>()
                    .AddFeedbackWebhooks(w =>
                    {
                        w.Postmark.Enabled = true;
                        w.Postmark.Username = PostmarkUser;
                        w.Postmark.Password = PostmarkPassword;
                    });
            },
            endpoints: app => app.MapEmailGuardFeedback("/emailguard/feedback"));

    /// <summary>The app's tenants table: each tenant's plan, read by the provider as a query would.</summary>
    private sealed class PlanDatabase
    {
        private readonly ConcurrentDictionary<string, string> _plans = new();

        public string this[string tenant]
        {
            get => _plans[tenant];
            set => _plans[tenant] = value;
        }
    }

    /// <summary>The plans: trial 50 a day, paid 5,000 a day, restricted (an operator's cut) 5 a day.</summary>
    private sealed class PlanLimits(PlanDatabase database) : ITenantLimitProvider
    {
        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
            => ValueTask.FromResult<TenantLimits?>(database[tenantId] switch
            {
                "paid" => new TenantLimits { Rules = [RateLimitRule.PerDay(5_000)] },
                "trial" => new TenantLimits { Rules = [RateLimitRule.PerDay(50)] },
                "restricted" => new TenantLimits { Rules = [RateLimitRule.PerDay(5)] },
                _ => null,
            });
    }

    /// <summary>Postmark's send API as the transport sees it: the message's metadata kept, a MessageID answered.</summary>
    private sealed class PostmarkOutbox
    {
        private readonly List<Sent> _sent = [];
        private readonly Dictionary<string, int> _perTenant = [];
        private readonly Lock _gate = new();

        public string Accept(OutboundEmail envelope, IReadOnlyDictionary<string, string> metadata)
        {
            string messageId = Guid.NewGuid().ToString();
            lock (_gate)
            {
                int position = _perTenant.GetValueOrDefault(envelope.TenantId!);
                _perTenant[envelope.TenantId!] = position + 1;
                _sent.Add(new Sent(_sent.Count, envelope.TenantId!, position, envelope.Sender!, envelope.To[0], messageId, metadata));
            }

            return messageId;
        }

        public IReadOnlyList<Sent> SentTo(string tenant)
        {
            lock (_gate)
            {
                return _sent.Where(s => s.Tenant == tenant).ToList();
            }
        }

        public IReadOnlyList<Sent> Since(int index)
        {
            lock (_gate)
            {
                return _sent.Skip(index).ToList();
            }
        }

        public sealed record Sent(int Index, string Tenant, int Position, string From, string To, string MessageId, IReadOnlyDictionary<string, string> Metadata);
    }

    /// <summary>The transport getting-started.md and feedback.md describe: Postmark metadata, provider name, MessageID.</summary>
    private sealed class PostmarkTransport(PostmarkOutbox postmark) : IEmailTransport
    {
        public async ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
            => await SendAndGetMessageIdAsync(envelope, content, cancellationToken);

        public ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            IReadOnlyDictionary<string, string> metadata = EmailFeedbackTags.ToPostmarkMetadata(content.ProviderTags ?? new Dictionary<string, string>());
            if (EmailSendContext.Current is { } send)
            {
                send.Provider = "postmark";
            }

            return ValueTask.FromResult<string?>(postmark.Accept(envelope, metadata));
        }
    }
}
