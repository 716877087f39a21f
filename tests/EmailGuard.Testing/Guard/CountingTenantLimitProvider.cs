using System.Collections.Concurrent;
using EmailGuard;

namespace EmailGuard.Testing.Guard;

/// <summary>A tenant limit provider that counts its lookups, as a stand-in for the application's database.</summary>
public sealed class CountingTenantLimitProvider(Func<string, TenantLimits?> limits) : ITenantLimitProvider
{
    private readonly ConcurrentDictionary<string, int> _calls = new();

    /// <summary>When set, lookups throw it, like a database that is down.</summary>
    public Exception? Failure { get; set; }

    /// <summary>How many times <paramref name="tenantId"/> was looked up.</summary>
    public int Calls(string tenantId) => _calls.GetValueOrDefault(tenantId);

    /// <inheritdoc />
    public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(tenantId, 1, (_, n) => n + 1);
        return Failure is { } failure ? ValueTask.FromException<TenantLimits?>(failure) : new(limits(tenantId));
    }
}
