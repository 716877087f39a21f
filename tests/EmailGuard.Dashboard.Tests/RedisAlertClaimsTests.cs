using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Alert claims on a real Redis, each instance on its own connection: a release gives up the releasing instance's own
/// claim and never another's, whenever the other instances claim.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisAlertClaimsTests(RedisServerFixture redis) : IAsyncLifetime
{
    private static readonly EmailGuardAlert Spike = EmailGuardAlert.Quoting(
        EmailGuardAlertKinds.LimitExceededSpike, "limit_exceeded_spike:Tenant", EmailGuardAlertSeverity.Warning,
        AlertMessage.Verbatim("100 messages denied"), AlertMessage.Verbatim(null), null, oncePerFleet: true);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<ServiceProvider> _instances = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ServiceProvider instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task Release_WhileTheClaimExpiresAndAnotherInstanceClaims_NeverGivesUpTheirClaim()
    {
        // Arrange: the first instance holds the claim; right after its release's first store call answers, the claim
        // expires (deleted on the server, as its TTL would) and the second instance claims.
        using ConnectionMultiplexer admin = redis.CreateMultiplexer();
        InterleavingKeyValueStore firstsView = new(Store());
        AlertClaims first = Claims(firstsView);
        AlertClaims second = Claims(Store());
        AlertClaims third = Claims(Store());
        (await first.ShouldSendAsync(Spike, default)).Should().BeTrue();
        RedisKey claim = (await RedisServerFixture.ScanWithTtlAsync(admin, _prefix)).Should().ContainSingle().Subject.Key;
        bool secondSends = false;
        firstsView.AfterNextCall(async () =>
        {
            await admin.GetDatabase().KeyDeleteAsync(claim);
            secondSends = await second.ShouldSendAsync(Spike, default);
        });

        // Act
        await first.ReleaseAsync(Spike, default);
        bool thirdSends = await third.ShouldSendAsync(Spike, default);

        // Assert
        secondSends.Should().BeTrue("the first claim was gone");
        thirdSends.Should().BeFalse("one page per condition and period: the second instance's claim still holds");
        TimeSpan? ttl = (await RedisServerFixture.ScanWithTtlAsync(admin, _prefix)).Should().ContainSingle().Subject.Ttl;
        ttl.Should().NotBeNull().And.BeGreaterThan(TimeSpan.FromMinutes(1), "the claim is the second instance's, for a period");
    }

    [Fact]
    public async Task ReleasesConcurrentWithClaimsOnEightInstances_AtMostOneTakesOver_AndTheClaimIsAlwaysHeld()
    {
        // Arrange: eight instances and an observer; the first claim goes to exactly one of the eight.
        const int Rounds = 25;
        AlertClaims[] instances = [.. Enumerable.Range(0, 8).Select(_ => Claims(Store()))];
        AlertClaims observer = Claims(Store());
        int holder = await ClaimAllAsync(instances);

        for (int round = 0; round < Rounds; round++)
        {
            // Act: the holder releases while every other instance raises the condition.
            Task release = Task.Run(async () => await instances[holder].ReleaseAsync(Spike, default));
            Task<bool>[] claims = [.. instances.Select((c, i) => i == holder ? Task.FromResult(false) : Task.Run(async () => await c.ShouldSendAsync(Spike, default)))];
            await release;
            bool[] sends = await Task.WhenAll(claims);

            // Assert: at most one of them took the released claim over, and then it holds it; if none did, the claim is
            // free and exactly one of a fresh round of claims wins it.
            int[] winners = [.. Enumerable.Range(0, sends.Length).Where(i => sends[i])];
            winners.Length.Should().BeLessThanOrEqualTo(1, $"round {round}: one page per condition and period");
            holder = winners.Length == 1 ? winners[0] : await ClaimAllAsync(instances);

            (await observer.ShouldSendAsync(Spike, default)).Should().BeFalse($"round {round}: the claim is held by instance {holder}");
        }
    }

    /// <summary>Every instance claims at once; exactly one wins.</summary>
    private static async Task<int> ClaimAllAsync(AlertClaims[] instances)
    {
        bool[] sends = await Task.WhenAll(instances.Select(c => Task.Run(async () => await c.ShouldSendAsync(Spike, default))));
        sends.Count(s => s).Should().Be(1, "exactly one instance claims a free condition");
        return Array.IndexOf(sends, true);
    }

    /// <summary>The key-value store of a new instance: its own provider, its own connection to the shared Redis.</summary>
    private IEmailGuardKeyValueStore Store()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = redis.ConnectionString;
            o.KeyPrefix = _prefix;
        });
        ServiceProvider provider = services.BuildServiceProvider();
        _instances.Add(provider);
        return provider.GetRequiredService<IEmailGuardKeyValueStore>();
    }

    // A loaded machine can take longer than the default 250 ms, which would send the alert unclaimed.
    private static AlertClaims Claims(IEmailGuardKeyValueStore store) => new(
        store,
        Options.Create(new EmailGuardAlertOptions()),
        Options.Create(new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(10) }),
        TimeProvider.System,
        NullLogger<AlertClaims>.Instance);
}
