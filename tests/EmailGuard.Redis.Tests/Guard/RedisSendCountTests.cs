using System.Globalization;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// The ratio breakers count every admitted send. That count rides in the guard's own acquire, so an admitted message
/// costs one script call on Redis, not two.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSendCountTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(Start);
    private ConnectionMultiplexer Admin => field ??= redis.CreateMultiplexer();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(Admin, _prefix + "c:", RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
    }

    [Fact]
    public async Task Check_WithRatioBreakers_AdmittedMessageIsOneScriptCall_AndEverySendIsCountedExactlyOnce()
    {
        // Arrange: the benchmark's check, with the feedback an app registers; recipients capped so that some are denied.
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.FromMinutes(5) };
        RateLimitRule rule = RateLimitRule.PerHour(1_000_000);
        options.Global.Add(rule);
        options.Tenant.Add(rule);
        options.Sender.Add(rule);
        options.User.Add(rule);
        options.Recipient.Add(RateLimitRule.PerHour(3));
        options.RecipientDomain.Add(rule);
        (EmailSendGuard guard, EmailGuardFeedback feedback) = GuardCountingSends(options);
        OutboundEmail[] messages = [.. Enumerable.Range(0, 200).Select(i => new OutboundEmail
        {
            To = [string.Create(CultureInfo.InvariantCulture, $"customer{i % 100}@example{i % 7}.com")],
            Sender = "NoReply+queue@App.Example",
            TenantId = "acme",
            UserId = "user-42",
            Category = "Signup",
            ClientIp = System.Net.IPAddress.Parse("2001:db8::" + (i % 9).ToString("x", CultureInfo.InvariantCulture)),
        })];
        (await guard.CheckAsync(messages[0])).IsAllowed.Should().BeTrue();
        IServer server = Admin.GetServer(Admin.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();

        // Act: each of 200 recipients is sent to 10 times, 3 of them within its limit.
        int admitted = 1;
        int checks = 2_000;
        for (int i = 0; i < checks; i++)
        {
            EmailSendDecision decision = await guard.CheckAsync(messages[(i + 1) % messages.Length]);
            decision.Reason.Should().BeOneOf(EmailSendReason.Allowed, EmailSendReason.LimitExceeded);
            admitted += decision.IsAllowed ? 1 : 0;
        }

        // Assert: one script call per check, admitted or not; sends counted once per admitted message, under every party.
        Dictionary<string, long> calls = await CommandCallsAsync(server);
        output.WriteLine($"admitted={admitted}; commandstats: " + string.Join(", ", calls.Select(c => $"{c.Key}={c.Value}")));
        admitted.Should().Be(200 * 3, "each of the 200 recipients within its limit of 3 an hour");
        (calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval")).Should().Be(checks, "the send is counted in the check's own script call");
        (await feedback.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(admitted);
        (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(admitted);
        (await feedback.GetAsync(EmailGuardDimension.User, "user-42")).Sends.Should().Be(admitted);
        (await feedback.GetAsync(EmailGuardDimension.Sender, "noreply@app.example")).Sends.Should().Be(admitted);
        (await feedback.GetAsync(EmailGuardDimension.Category, "signup")).Sends.Should().Be(admitted);
        (await feedback.GetAsync(EmailGuardDimension.ClientIp, "2001:db8::/64")).Sends.Should().Be(admitted, "one /64, as the client IP dimension groups it");
    }

    [Fact]
    public async Task Check_Refunded_GivesItsSendCountBack()
    {
        // Arrange: a refunded check (the provider refused the mail) sent nothing, so it is no send in the ratios.
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.FromMinutes(5) };
        options.Tenant.Add(RateLimitRule.PerHour(100));
        (EmailSendGuard guard, EmailGuardFeedback feedback) = GuardCountingSends(options);
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme", UserId = "user-42", Category = "Share" };

        // Act
        EmailSendDecision kept = await guard.CheckAsync(message);
        EmailSendDecision refunded = await guard.CheckAsync(message);
        bool gaveBack = await guard.RefundAsync(refunded);

        // Assert
        (kept.IsAllowed, refunded.IsAllowed, gaveBack).Should().Be((true, true, true));
        (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(1);
        (await feedback.GetAsync(EmailGuardDimension.User, "user-42")).Sends.Should().Be(1);
        (await feedback.GetAsync(EmailGuardDimension.Category, "share")).Sends.Should().Be(1);
        (await feedback.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(1);
    }

    private static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        Dictionary<string, long> calls = [];
        foreach (IGrouping<string, KeyValuePair<string, string>> section in await server.InfoAsync("commandstats"))
        {
            foreach (KeyValuePair<string, string> stat in section)
            {
                string name = stat.Key["cmdstat_".Length..];
                calls[name] = long.Parse(stat.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    /// <summary>A guard of <paramref name="options"/> on this test's Redis, counting every admitted send as AddEmailGuard() wires it, and its feedback.</summary>
    private (EmailSendGuard Guard, EmailGuardFeedback Feedback) GuardCountingSends(SendGuardOptions options)
    {
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        ResilientRateLimitStore store = new(RedisStoreTestBase.CreateStore(Admin, _prefix + "c:", _time), new StoreResilienceOptions(), _time);
        GuardStateCache state = new(new RedisEmailGuardStateStore(new RedisConnection(Admin, _prefix + "s:"), _time), wrapped, _time);
        EmailGuardFeedback feedback = new(
            store, new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, _time), new StoreResilienceOptions(), _time), null, new EmailFeedbackOptions(), options, _time);
        return (new EmailSendGuard(wrapped, store, state, _time) { Sends = feedback }, feedback);
    }
}
