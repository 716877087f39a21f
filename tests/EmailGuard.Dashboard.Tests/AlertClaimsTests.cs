using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>Which instance sends an alert that every instance raises for the same incident.</summary>
public sealed class AlertClaimsTests
{
    private static readonly EmailGuardAlert Spike = EmailGuardAlert.Quoting(
        EmailGuardAlertKinds.LimitExceededSpike, "limit_exceeded_spike:Tenant", EmailGuardAlertSeverity.Warning,
        AlertMessage.Verbatim("100 messages denied"), AlertMessage.Verbatim(null), null, oncePerFleet: true);

    [Fact]
    public async Task Claim_FirstInstanceSends_AgainItStillSends_TheOtherDoesNot()
    {
        ClaimStore store = new();
        AlertClaims first = Claims(store);
        AlertClaims second = Claims(store);

        bool firstSends = await first.ShouldSendAsync(Spike, default);
        bool firstAgain = await first.ShouldSendAsync(Spike, default);
        bool secondSends = await second.ShouldSendAsync(Spike, default);

        (firstSends, firstAgain, secondSends).Should().Be((true, true, false));
    }

    [Fact]
    public async Task Claim_StoreFails_TheAlertIsSentAnyway_AndAnAlertWithoutClaimAsksNoStore()
    {
        ClaimStore store = new() { Fail = true };
        AlertClaims claims = Claims(store);
        EmailGuardAlert own = new() { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" };

        bool spike = await claims.ShouldSendAsync(Spike, default);
        store.Fail = false;
        bool appAlert = await claims.ShouldSendAsync(own, default);

        spike.Should().BeTrue("two pages of one spike are better than none");
        appAlert.Should().BeTrue();
        store.Calls.Should().Be(1);
    }

    [Fact]
    public async Task Release_OnlyTheHoldersRelease_GivesTheClaimUp_AndTheOtherInstanceThenSends()
    {
        ClaimStore store = new();
        AlertClaims first = Claims(store);
        AlertClaims second = Claims(store);
        await first.ShouldSendAsync(Spike, default);

        await second.ReleaseAsync(Spike, default);
        bool secondAfterItsOwnRelease = await second.ShouldSendAsync(Spike, default);
        await first.ReleaseAsync(Spike, default);
        bool secondAfterTheHoldersRelease = await second.ShouldSendAsync(Spike, default);

        secondAfterItsOwnRelease.Should().BeFalse("an instance cannot give up a claim it does not hold");
        secondAfterTheHoldersRelease.Should().BeTrue("the holder's page reached no one and it gave the claim up");
    }

    private static AlertClaims Claims(IEmailGuardKeyValueStore store) => new(
        store,
        Options.Create(new EmailGuardAlertOptions()),
        Options.Create(new StoreResilienceOptions()),
        TimeProvider.System,
        NullLogger<AlertClaims>.Instance);

    private sealed class ClaimStore : IEmailGuardKeyValueStore
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public bool Fail { get; set; }

        public int Calls { get; private set; }

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            _values[key] = value;
            return ValueTask.CompletedTask;
        }

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(_values.GetValueOrDefault(key));

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Calls++;
            if (Fail)
            {
                throw new InvalidOperationException("store down");
            }

            return ValueTask.FromResult(_values.TryAdd(key, value) ? null : _values[key]);
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(_values.GetValueOrDefault(key) == expectedValue && _values.Remove(key));
    }
}
