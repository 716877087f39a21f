using System.Collections.Concurrent;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The decision keeps its usage compact (a shape shared by the checks of one plan on a thread, counts packed inline)
/// and builds its usage and attribution when read. These tests pin that a decision still says exactly what the store
/// answered for its own check, however many checks the thread (or another) made since, and that the in-memory check
/// allocates nothing.
/// </summary>
public sealed class SendGuardDecisionRetentionTests
{
    private static OutboundEmail Mail(string to, string tenant = "acme", string user = "u1") => new() { To = [to], TenantId = tenant, Sender = "noreply@app.example", UserId = user };

    private static (ServiceProvider Services, AnswerRecordingStore Store, FakeTimeProvider Time) Build(Action<SendGuardOptions> configure)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        AnswerRecordingStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        ServiceProvider sp = SendGuardTestServices.Build(configure, time: time, more: s => s.AddSingleton<IRateLimitStore>(store));
        return (sp, store, time);
    }

    /// <summary>Every algorithm, an hourly and a daily rule on several dimensions: the reset times of one check differ by up to a day.</summary>
    private static void ManyRules(SendGuardOptions o)
    {
        o.Global.Add(RateLimitRule.PerHour(1_000_000));
        o.Tenant.Add(RateLimitRule.SlidingWindow(1_000_000, TimeSpan.FromHours(1), 6));
        o.Tenant.Add(RateLimitRule.PerDay(1_000_000));
        o.Sender.Add(RateLimitRule.TokenBucket(1_000, TimeSpan.FromMinutes(1), 100_000));
        o.User.Add(RateLimitRule.PerHour(1_000_000));
        o.Recipient.Add(RateLimitRule.PerHour(3));
        o.RecipientDomain.Add(RateLimitRule.SlidingWindow(1_000, TimeSpan.FromDays(1), 24));
    }

    [Fact]
    public void Check_InMemoryAllowed_AllocatesNoMoreThanAFewBytesPerCheck()
    {
        // The benchmark's check (SendGuardBenchmarks): global, tenant, sender, user, one recipient and its domain, as an
        // app registers it (the ratio breakers count each send). It allocated about 1.7 KB per check: the usage array,
        // the attribution and its send id (680 B), and the send counted in an acquire of its own. Any of them coming
        // back fails the bound.
        RateLimitRule rule = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        using ServiceProvider sp = SendGuardTestServices.Build(time: time, configure: o =>
        {
            // As an app runs: lists and flags from the cached view (the test default reloads them on every check).
            o.StateRefreshInterval = TimeSpan.FromHours(1);
            o.AddSixPartyRules(rule, rule);
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail[] messages = [.. Enumerable.Range(0, 64).Select(i => Mail($"customer{i}@example{i % 8}.com"))];

        long PerCheck(int checks)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < checks; i++)
            {
                EmailSendDecision decision = CheckNow(guard, messages[i % messages.Length]);
                if (!decision.IsAllowed)
                {
                    throw new InvalidOperationException(decision.ToString());
                }
            }

            return (GC.GetAllocatedBytesForCurrentThread() - before) / checks;
        }

        PerCheck(2_000);
        long same = 0;
        for (int i = 0; i < 2_000; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            _ = CheckNow(guard, messages[0]);
            same += GC.GetAllocatedBytesForCurrentThread() - before;
        }

        PerCheck(20_000).Should().BeLessThan(64, "a check to rotating recipients keeps its usage inline and builds no attribution");
        (same / 2_000).Should().BeLessThan(64, "the same message again and again");
    }

    /// <summary>The in-memory check completes synchronously; blocking on it would hide an allocation-free path going async.</summary>
    private static EmailSendDecision CheckNow(IEmailSendGuard guard, OutboundEmail message)
    {
        ValueTask<EmailSendDecision> pending = guard.CheckAsync(message);
        return pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("The in-memory check went asynchronous.");
    }

    [Fact]
    public async Task Usage_ReadAfterManyOtherChecksOnThisAndOtherThreads_IsExactlyWhatTheStoreAnsweredForThisCheck()
    {
        (ServiceProvider sp, AnswerRecordingStore store, FakeTimeProvider time) = Build(ManyRules);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        List<(EmailSendDecision Decision, int Answer, OutboundEmail Message)> kept = [];
        for (int i = 0; i < 40; i++)
        {
            // One recipient (the recipient fills the shape's templates), then the same tenant and user to another
            // recipient (the shape is shared), then several recipients, another tenant, and a recipient over its limit.
            OutboundEmail message = (i % 5) switch
            {
                0 or 1 => Mail($"r{i % 7}@d{i % 3}.example"),
                2 => new OutboundEmail { To = ["a@d0.example", $"b{i}@d1.example", "c@d0.example"], TenantId = "acme", Sender = "noreply@app.example", UserId = "u1" },
                3 => Mail($"r{i}@d{i % 3}.example", tenant: $"t{i}", user: $"user{i}"),
                _ => Mail("hot@d0.example"),
            };
            int answer = store.Answers.Count;
            EmailSendDecision decision = await guard.CheckAsync(message);
            kept.Add((decision, answer, message));
            time.Advance(TimeSpan.FromMinutes(2));
        }

        kept.Should().Contain(k => k.Decision.Reason == EmailSendReason.LimitExceeded, "the hot recipient went over its limit");
        await Task.WhenAll(Enumerable.Range(0, 2).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < 200; i++)
            {
                await guard.CheckAsync(Mail($"other{t}-{i}@elsewhere.example", user: $"other{i % 3}"));
            }
        })));

        foreach ((EmailSendDecision decision, int answer, OutboundEmail message) in kept)
        {
            (RateLimitRequest[] requests, RateLimitEntry[] entries) = store.Answers[answer];
            EmailSendRuleUsage[] usage = decision.Usage.ToArray();
            usage.Select(u => u.Request).Should().Equal(requests);
            usage.Select(u => u.Entry).Should().Equal(entries);
            usage.Select(u => u.Rule).Should().Equal(requests.Select(r => r.Rule), (a, b) => ReferenceEquals(a, b));
            foreach (EmailSendRuleUsage rule in usage)
            {
                rule.Partition.Should().Be(rule.Dimension switch
                {
                    EmailGuardDimension.Global => null,
                    EmailGuardDimension.Tenant => message.TenantId,
                    EmailGuardDimension.Sender => message.Sender,
                    EmailGuardDimension.User => message.UserId,
                    EmailGuardDimension.Recipient => message.To.Single(to => to == rule.Partition),
                    _ => message.To.Select(to => to[(to.IndexOf('@', StringComparison.Ordinal) + 1)..]).First(domain => domain == rule.Partition),
                });
            }

            usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => u.Partition).Distinct().Should().BeEquivalentTo(message.To);
            if (decision.Reason == EmailSendReason.LimitExceeded)
            {
                decision.Recipient.Should().NotBeNull("only recipient limits are within reach");
                usage.Should().Contain(u => !u.IsAllowed && u.Partition == decision.Partition);
            }

            foreach (EmailGuardDimension dimension in Enum.GetValues<EmailGuardDimension>())
            {
                long? expected = usage.Where(u => u.Dimension == dimension).Select(u => (long?)u.Remaining).Min();
                decision.GetRemaining(dimension).Should().Be(expected);
            }

            decision.Usage.ToArray().Should().Equal(usage, "every read builds the same usage");
        }
    }

    [Fact]
    public async Task Usage_OneRecipientMessagesSharingAShape_EachNamesItsOwnRecipientAndDomain()
    {
        (ServiceProvider sp, AnswerRecordingStore store, _) = Build(ManyRules);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision first = await guard.CheckAsync(Mail("first@one.example"));
        EmailSendDecision second = await guard.CheckAsync(Mail("second@two.example"));

        first.Usage.ToArray().Where(u => u.Dimension == EmailGuardDimension.Recipient).Should().ContainSingle().Which.Partition.Should().Be("first@one.example");
        first.Usage.ToArray().Where(u => u.Dimension == EmailGuardDimension.RecipientDomain).Should().ContainSingle().Which.Partition.Should().Be("one.example");
        second.Usage.ToArray().Where(u => u.Dimension == EmailGuardDimension.Recipient).Should().ContainSingle().Which.Partition.Should().Be("second@two.example");
        first.Usage.ToArray().Select(u => u.Request).Should().Equal(store.Answers[0].Requests);
        second.Usage.ToArray().Select(u => u.Request).Should().Equal(store.Answers[1].Requests);
    }

    [Fact]
    public async Task Usage_ResetsFarApartAndManyRules_StillExact()
    {
        // A 300-day rule resets too far from an hourly one to pack; nine rules are more than the decision keeps inline.
        (ServiceProvider sp, AnswerRecordingStore store, _) = Build(o =>
        {
            o.Global.Add(RateLimitRule.PerMinute(1_000));
            o.Global.Add(RateLimitRule.FixedWindow(1_000, TimeSpan.FromDays(300)));
            o.Recipient.Add(RateLimitRule.PerHour(10));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision farApart = await guard.CheckAsync(Mail("a@x.example"));
        EmailSendDecision many = await guard.CheckAsync(new OutboundEmail { To = [.. Enumerable.Range(0, 8).Select(i => $"m{i}@x.example")] });
        await guard.CheckAsync(Mail("b@y.example"));

        farApart.Usage.ToArray().Select(u => u.Entry).Should().Equal(store.Answers[0].Entries);
        many.Usage.Length.Should().Be(10);
        many.Usage.ToArray().Select(u => u.Entry).Should().Equal(store.Answers[1].Entries);
        many.Usage.ToArray().Select(u => u.Request).Should().Equal(store.Answers[1].Requests);
    }

    [Fact]
    public async Task Usage_MoreRequestsThanKeptInline_StillExactAfterLaterChecks()
    {
        (ServiceProvider sp, AnswerRecordingStore store, FakeTimeProvider time) = Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(1_000));
            o.Global.Add(RateLimitRule.PerDay(10_000));
            o.Recipient.Add(RateLimitRule.SlidingWindow(5, TimeSpan.FromHours(1), 4));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail many = new() { To = [.. Enumerable.Range(0, GuardUsage.InlineCapacity + 1).Select(i => $"m{i}@x.example")] };

        EmailSendDecision first = await guard.CheckAsync(many);
        time.Advance(TimeSpan.FromMinutes(20));
        EmailSendDecision second = await guard.CheckAsync(many);
        await guard.CheckAsync(Mail("other@y.example"));

        first.Usage.Length.Should().Be(GuardUsage.InlineCapacity + 3);
        first.Usage.ToArray().Select(u => u.Entry).Should().Equal(store.Answers[0].Entries);
        second.Usage.ToArray().Select(u => u.Entry).Should().Equal(store.Answers[1].Entries);
        second.Usage.ToArray().Select(u => u.Count).Should().OnlyContain(c => c == 2 * (GuardUsage.InlineCapacity + 1) || c == 2);
    }

    [Fact]
    public async Task Attribution_ReadTwiceAndOnAnotherThread_SameSendIdAndParties_AndEverySendIdIsNew()
    {
        (ServiceProvider sp, _, _) = Build(o => o.Global.Add(RateLimitRule.PerHour(1_000_000)));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = new()
        {
            To = ["r@example.com"],
            TenantId = "acme",
            UserId = "u1",
            Sender = "NoReply@App.Example",
            Category = "signup",
            ClientIp = System.Net.IPAddress.Parse("203.0.113.7"),
            EndpointPolicy = "signup-form",
        };

        EmailSendDecision decision = await guard.CheckAsync(message);
        EmailSendAttribution first = decision.Attribution!;
        HashSet<string> ids = [first.SendId!];
        for (int i = 0; i < 2_000; i++)
        {
            ids.Add((await guard.CheckAsync(message)).Attribution!.SendId!).Should().BeTrue("a send id is never given twice");
        }

        EmailSendAttribution later = await Task.Run(() => decision.Attribution!);
        later.Should().BeEquivalentTo(first);
        first.Should().BeEquivalentTo(new EmailSendAttribution
        {
            SendId = first.SendId,
            TenantId = "acme",
            UserId = "u1",
            Sender = "noreply@app.example",
            Category = "signup",
            ClientNetwork = "203.0.113.7/32",
            EndpointPolicy = "signup-form",
        });
        ids.Should().OnlyContain(id => id.Length == 16 && id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'));
        (await guard.PeekAsync(message)).Attribution.Should().BeNull();
    }

    /// <summary>Passes calls to an in-memory store and keeps a copy of every acquire's requests and answers, in order.</summary>
    private sealed class AnswerRecordingStore(IRateLimitStore inner) : IRateLimitStore
    {
        public ConcurrentQueue<(RateLimitRequest[] Requests, RateLimitEntry[] Entries)> Queue { get; } = new();

        /// <summary>The guard's acquires (the feedback's own counting of sends left out), each cut to the guard's requests.</summary>
        public List<(RateLimitRequest[] Requests, RateLimitEntry[] Entries)> Answers =>
            [.. Queue.Where(a => a.Requests[0].Key.StartsWith("send:", StringComparison.Ordinal)).Select(a => Cut(a.Requests, a.Entries))];

        private static (RateLimitRequest[] Requests, RateLimitEntry[] Entries) Cut(RateLimitRequest[] requests, RateLimitEntry[] entries)
        {
            int guard = requests.TakeWhile(r => r.Key.StartsWith("send:", StringComparison.Ordinal)).Count();
            return (requests[..guard], entries[..guard]);
        }

        public async ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            RateLimitDecision decision = await inner.AcquireAsync(requests, results, cancellationToken);
            Queue.Enqueue((requests.ToArray(), results.ToArray()));
            return decision;
        }

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => inner.PeekAsync(requests, results, cancellationToken);

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => inner.RefundAsync(requests, decision, cancellationToken);

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => inner.ResetAsync(key, rule, cancellationToken);
    }
}
