using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The send guard the party id tests attack (<see cref="HostilePartyIdTests"/>, <see cref="HostileBlankPartyIdTests"/>):
/// tenant and user caps (and a category cap, when given) under a wide global one, on an in-memory store whose calls are
/// recorded, with a tenant limit provider that counts its lookups.
/// </summary>
internal static class PartyIdGuard
{
    public static (ServiceProvider Services, RecordingRateLimitStore Store, CountingTenantLimitProvider Provider) Build(
        int perHour, int? categoryPerHour, FakeLogCollector? logs)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        RecordingRateLimitStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        CountingTenantLimitProvider provider = new(_ => null);
        ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(perHour));
                o.User.Add(RateLimitRule.PerHour(perHour));
                if (categoryPerHour is { } category)
                {
                    o.Category.Add(RateLimitRule.PerHour(category));
                }

                o.Global.Add(RateLimitRule.PerHour(100_000));
            },
            time: time,
            logs: logs,
            more: s =>
            {
                s.AddSingleton<IRateLimitStore>(store);
                s.AddSingleton<ITenantLimitProvider>(provider);
            });
        return (sp, store, provider);
    }
}
