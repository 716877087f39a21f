using EmailGuard;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Testing.Guard;

/// <summary>A send guard wired by hand over a given store and clock, with its admin APIs, for scenario tests.</summary>
public sealed class SendGuardHarness
{
    internal SendGuardHarness(
        FakeTimeProvider time,
        IRateLimitStore store,
        IEmailGuardStateStore stateStore,
        SendGuardOptions options,
        ITenantLimitProvider? tenantLimitProvider,
        StoreResilienceOptions? resilience = null,
        IEmailContentInspector? contentInspector = null,
        IEmailGuardKeyValueStore? keyValues = null)
    {
        Time = time;
        Store = store;
        Options = options;
        IOptions<SendGuardOptions> wrapped = Microsoft.Extensions.Options.Options.Create(options);
        StateCache = new GuardStateCache(stateStore, wrapped, time, resilience: resilience);
        ResilientStore = new ResilientRateLimitStore(store, resilience ?? new StoreResilienceOptions(), time);
        Flags = new EmailGuardFlags(StateCache, wrapped, time);
        GuardImpl = new EmailSendGuard(wrapped, ResilientStore, StateCache, time, tenantLimitProvider)
        {
            Flags = Flags,
            ContentInspector = contentInspector,
            ActiveTenants = keyValues,
        };
        Lists = new EmailGuardLists(StateCache, wrapped, time);
    }

    /// <summary>The clock every component reads.</summary>
    public FakeTimeProvider Time { get; }

    /// <summary>The rate-limit store under test.</summary>
    public IRateLimitStore Store { get; }

    /// <summary>The options the guard was built with.</summary>
    public SendGuardOptions Options { get; }

    /// <summary>The guard.</summary>
    public IEmailSendGuard Guard => GuardImpl;

    /// <summary>The blocklist and allowlist.</summary>
    public IEmailGuardLists Lists { get; }

    /// <summary>Flags and suspensions.</summary>
    public IEmailGuardFlags Flags { get; }

    internal EmailSendGuard GuardImpl { get; }

    /// <summary>
    /// Moves the clock on once the state refresh a check started in the background has finished. On a real store that
    /// refresh can still be in flight when the test moves the clock, and then times out on the jump (its timeout runs on
    /// this clock): a few such jumps open the state store's circuit, and the next flag read throws.
    /// </summary>
    /// <param name="by">How far to move the clock.</param>
    /// <returns>A task that completes once the clock has moved.</returns>
    public async Task AdvanceAsync(TimeSpan by)
    {
        if (StateCache.Refreshing is { } refreshing)
        {
            await refreshing;
        }

        Time.Advance(by);
    }

    internal GuardStateCache StateCache { get; }

    internal ResilientRateLimitStore ResilientStore { get; }

    /// <summary>Reads the current count of every rule for the parties in <paramref name="query"/>.</summary>
    public async Task<IReadOnlyList<EmailSendRuleUsage>> UsageAsync(EmailGuardStatusQuery query)
        => (await Guard.GetStatusAsync(query)).Usage;

    /// <summary>The smallest count of any rule of <paramref name="dimension"/> for the parties in <paramref name="query"/>.</summary>
    public async Task<long> CountAsync(EmailGuardStatusQuery query, EmailGuardDimension dimension)
        => (await UsageAsync(query)).Where(u => u.Dimension == dimension).Select(u => u.Count).DefaultIfEmpty(-1).Max();
}
