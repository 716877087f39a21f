using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>Which instance sends an alert that every instance raises for the same incident.</summary>
public sealed class AlertClaimsTests
{
    private static readonly TimeSpan Period = new EmailGuardAlertOptions().Period;

    private static readonly EmailGuardAlert Spike = EmailGuardAlert.Quoting(
        EmailGuardAlertKinds.LimitExceededSpike, "limit_exceeded_spike:Tenant", EmailGuardAlertSeverity.Warning,
        AlertMessage.Verbatim("100 messages denied"), AlertMessage.Verbatim(null), null, oncePerFleet: true);

    [Fact]
    public async Task Claim_FirstInstanceSends_AgainItStillSends_TheOtherDoesNot()
    {
        ClaimStore store = new(TimeProvider.System);
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
        ClaimStore store = new(TimeProvider.System) { Fail = true };
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
        ClaimStore store = new(TimeProvider.System);
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

    [Fact]
    public async Task Release_ThenTwoOtherInstancesRaiseIt_OnlyTheFirstSends()
    {
        // The release used to leave a value that lived 1 ms and that every instance reading it took for a given-up claim.
        FakeTimeProvider time = new();
        ClaimStore store = new(time);
        AlertClaims holder = Claims(store, time);
        AlertClaims second = Claims(store, time);
        AlertClaims third = Claims(store, time);
        await holder.ShouldSendAsync(Spike, default);

        await holder.ReleaseAsync(Spike, default);
        bool secondSends = await second.ShouldSendAsync(Spike, default);
        bool thirdSends = await third.ShouldSendAsync(Spike, default);

        (secondSends, thirdSends).Should().Be((true, false), "the released condition is claimed anew, by one instance");
    }

    [Fact]
    public async Task Release_AfterTheClaimExpiredAndAnotherInstanceClaimed_LeavesTheirClaim()
    {
        FakeTimeProvider time = new();
        ClaimStore store = new(time);
        AlertClaims first = Claims(store, time);
        AlertClaims second = Claims(store, time);
        AlertClaims third = Claims(store, time);
        await first.ShouldSendAsync(Spike, default);
        time.Advance(Period);
        bool secondSends = await second.ShouldSendAsync(Spike, default);

        await first.ReleaseAsync(Spike, default);
        bool thirdSends = await third.ShouldSendAsync(Spike, default);

        secondSends.Should().BeTrue("the first claim expired");
        thirdSends.Should().BeFalse("the second instance's claim holds: the first released only its own");
    }

    [Fact]
    public async Task Release_WhileTheClaimExpiresAndAnotherInstanceClaims_NeverGivesUpTheirClaim()
    {
        // The worst moment: the first instance's claim expires and the second claims right after the release's first
        // store call answered. A release that read its own id and then overwrote the key gave the second's claim up, and
        // a third instance paged the condition again.
        FakeTimeProvider time = new();
        ClaimStore store = new(time);
        InterleavingKeyValueStore firstsView = new(store);
        AlertClaims first = Claims(firstsView, time);
        AlertClaims second = Claims(store, time);
        AlertClaims third = Claims(store, time);
        await first.ShouldSendAsync(Spike, default);
        bool secondSends = false;
        firstsView.AfterNextCall(async () =>
        {
            time.Advance(Period);
            secondSends = await second.ShouldSendAsync(Spike, default);
        });

        await first.ReleaseAsync(Spike, default);
        bool thirdSends = await third.ShouldSendAsync(Spike, default);

        secondSends.Should().BeTrue("the first claim expired");
        thirdSends.Should().BeFalse("one page per condition and period: the second instance's claim still holds");
    }

    private static AlertClaims Claims(IEmailGuardKeyValueStore store, TimeProvider? time = null) => new(
        store,
        Options.Create(new EmailGuardAlertOptions()),
        Options.Create(new StoreResilienceOptions()),
        time ?? TimeProvider.System,
        NullLogger<AlertClaims>.Instance);

    /// <summary>A store that keeps each value for its time to live on <paramref name="time"/>.</summary>
    private sealed class ClaimStore(TimeProvider time) : IEmailGuardKeyValueStore
    {
        private readonly Dictionary<string, (string Value, DateTimeOffset Until)> _values = new(StringComparer.Ordinal);

        public bool Fail { get; set; }

        /// <summary>The claims asked for.</summary>
        public int Calls { get; private set; }

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            _values[key] = (value, time.GetUtcNow() + timeToLive);
            return ValueTask.CompletedTask;
        }

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) => ValueTask.FromResult(Live(key));

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Calls++;
            if (Fail)
            {
                throw new InvalidOperationException("store down");
            }

            if (Live(key) is { } existing)
            {
                return ValueTask.FromResult<string?>(existing);
            }

            _values[key] = (value, time.GetUtcNow() + timeToLive);
            return ValueTask.FromResult<string?>(null);
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Live(key) == expectedValue && _values.Remove(key));

        private string? Live(string key)
            => _values.TryGetValue(key, out (string Value, DateTimeOffset Until) entry) && entry.Until > time.GetUtcNow() ? entry.Value : null;
    }
}
