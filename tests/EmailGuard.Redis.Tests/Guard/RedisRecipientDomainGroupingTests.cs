using System.Globalization;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// Subdomain rotation on a shared Redis: app instances on connections of their own, many callers at once, each mail to
/// a fresh name under <c>victim.com</c> (a wildcard MX answers for all of them). The recipient-domain cap counts
/// <c>victim.com</c> once for all of them, so exactly the cap is admitted.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRecipientDomainGroupingTests(RedisServerFixture redis) : IAsyncLifetime
{
    private const int Cap = 25;
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(Start);
    private readonly List<ConnectionMultiplexer> _connections = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        ConnectionMultiplexer admin = redis.CreateMultiplexer();
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(admin, _prefix + "c:", RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
        foreach (ConnectionMultiplexer connection in _connections.Append(admin))
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task Check_RotatingSubdomainsFromFourInstancesAndManyCallers_AdmitsExactlyTheDomainCap()
    {
        SendGuardHarness[] instances = [.. Enumerable.Range(0, 4).Select(_ => Instance())];

        EmailSendDecision[] decisions = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
            await instances[i % instances.Length].Guard.CheckAsync(new OutboundEmail
            {
                To = [string.Create(CultureInfo.InvariantCulture, $"a{i}@x{i}.victim.com")],
            }))));

        decisions.Count(d => d.IsAllowed).Should().Be(Cap, "400 subdomains of victim.com share its one counter");
        decisions.Where(d => !d.IsAllowed).Should().OnlyContain(d => d.Dimension == EmailGuardDimension.RecipientDomain && d.Partition == "victim.com");
        EmailGuardStatus status = await instances[1].Guard.GetStatusAsync(new EmailGuardStatusQuery { Recipient = "someone@victim.com" });
        EmailSendRuleUsage domain = status.Usage.Should().ContainSingle(u => u.Dimension == EmailGuardDimension.RecipientDomain).Subject;
        domain.Partition.Should().Be("victim.com");
        domain.Count.Should().Be(Cap);
        (await instances[2].Guard.CheckAsync(new OutboundEmail { To = ["a@notvictim.com"] })).IsAllowed.Should().BeTrue("notvictim.com is a domain of its own");
    }

    private SendGuardHarness Instance()
    {
        ConnectionMultiplexer connection = redis.CreateMultiplexer();
        _connections.Add(connection);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.FromSeconds(5) };
        options.RecipientDomain.Add(RateLimitRule.PerHour(Cap));
        return new SendGuardHarness(
            _time,
            RedisStoreTestBase.CreateStore(connection, _prefix + "c:", _time),
            new RedisEmailGuardStateStore(new RedisConnection(connection, _prefix + "s:"), _time),
            options,
            null);
    }
}
