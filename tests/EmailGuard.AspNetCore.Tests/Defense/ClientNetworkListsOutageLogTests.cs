using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The client-network lists are read every refresh interval, requests or not: a store outage is a warning once, and
/// its end a line once, not a warning with its exception at every reading.
/// </summary>
public sealed class ClientNetworkListsOutageLogTests
{
    [Fact]
    public async Task Readings_StoreDownForSeveral_WarnedOnce_RecoveryLoggedOnce()
    {
        // Arrange
        using ServiceProvider services = new ServiceCollection().AddEmailGuard().AddSendGuard().Services.BuildServiceProvider();
        SwitchableLists lists = new(services.GetRequiredService<IEmailGuardLists>()) { Down = true };
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        FakeLogger logger = new();
        ClientNetworkLists networks = new(lists, time, logger);
        TimeSpan interval = TimeSpan.FromSeconds(10);

        // Act: four readings while the store is down (each waited for: the table is twice the interval old), then one up.
        for (int i = 0; i < 4; i++)
        {
            _ = await networks.GetAsync(interval);
            time.Advance(interval * 2);
        }

        lists.Down = false;
        _ = await networks.GetAsync(interval);

        // Assert
        lists.Readings.Should().Be(5);
        logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1806).Should().Be(1);
        logger.Collector.GetSnapshot().Count(r => r.Id.Id == 3010).Should().Be(1);
    }

    [Fact]
    public void PeriodicRefresh_EveryUseEmailGuardBranchSharesOneViewAndOneTimer()
    {
        // Arrange: what each middleware (one per UseEmailGuard branch) does at construction.
        using ServiceProvider services = new ServiceCollection().AddLogging().AddEmailGuard().AddSendGuard().AddEndpointPolicies(_ => { }).Services.BuildServiceProvider();
        ClientNetworkLists first = services.GetRequiredService<ClientNetworkLists>();
        ClientNetworkLists second = services.GetRequiredService<ClientNetworkLists>();

        // Act
        using ITimer? firstTimer = first.StartPeriodicRefresh(() => TimeSpan.FromSeconds(10));
        using ITimer? secondTimer = second.StartPeriodicRefresh(() => TimeSpan.FromSeconds(10));

        // Assert
        second.Should().BeSameAs(first);
        firstTimer.Should().NotBeNull();
        secondTimer.Should().BeNull("one timer reads the lists for every branch; each read them all every interval");
    }

    private sealed class SwitchableLists(IEmailGuardLists inner) : IEmailGuardLists
    {
        private int _readings;

        public bool Down { get; set; }

        public int Readings => Volatile.Read(ref _readings);

        public ValueTask<EmailGuardListPage> ListAsync(EmailGuardListQuery query, CancellationToken cancellationToken = default)
        {
            if (query.Kind == EmailGuardListKind.Blocklist)
            {
                Interlocked.Increment(ref _readings);
            }

            return Down ? throw new EmailGuardStoreUnavailableException("down") : inner.ListAsync(query, cancellationToken);
        }

        public ValueTask<EmailGuardListEntry> AddAsync(
            EmailGuardListKind kind, EmailGuardPartyType partyType, string value, string reason, TimeSpan? duration = null, string? addedBy = null, CancellationToken cancellationToken = default)
            => inner.AddAsync(kind, partyType, value, reason, duration, addedBy, cancellationToken);

        public ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
            => inner.RemoveAsync(kind, partyType, value, cancellationToken);

        public ValueTask<EmailGuardListEntry?> FindAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
            => inner.FindAsync(kind, partyType, value, cancellationToken);

        public ValueTask<IReadOnlyDictionary<string, int>> CountByReasonAsync(EmailGuardListKind kind, bool includeExpired = false, CancellationToken cancellationToken = default)
            => inner.CountByReasonAsync(kind, includeExpired, cancellationToken);

        public IChangeToken GetChangeToken(EmailGuardPartyType partyType) => inner.GetChangeToken(partyType);
    }
}
