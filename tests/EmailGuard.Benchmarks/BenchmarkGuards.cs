using EmailGuard.Testing;
using Microsoft.Extensions.Options;

namespace EmailGuard.Benchmarks;

/// <summary>
/// The send guards the benchmarks measure, built as <c>AddEmailGuard()</c> builds them: the store behind its timeout and
/// circuit breaker, the in-memory state store, and (when asked) the ratio breakers' count of every admitted send.
/// </summary>
internal static class BenchmarkGuards
{
    /// <summary>
    /// <paramref name="options"/> (new ones when null) with <paramref name="global"/> on the global party and
    /// <paramref name="window"/> on the tenant, sender, user, recipient and recipient domain: a check is six counters.
    /// </summary>
    public static SendGuardOptions SixParties(RateLimitRule global, RateLimitRule window, SendGuardOptions? options = null)
    {
        return (options ?? new SendGuardOptions()).AddSixPartyRules(global, window);
    }

    /// <summary>A guard of <paramref name="options"/> on <paramref name="store"/>, counting sends when <paramref name="countSends"/>.</summary>
    public static EmailSendGuard Create(SendGuardOptions options, IRateLimitStore store, bool countSends)
    {
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        GuardStateCache state = new(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System);
        return new EmailSendGuard(wrapped, resilient, state, TimeProvider.System) { Sends = countSends ? SendCounts(resilient, options) : null };
    }

    /// <summary>As <c>AddEmailGuard()</c> registers it: what counts every admitted send for the ratio breakers, on <paramref name="resilient"/>.</summary>
    public static EmailGuardFeedback SendCounts(ResilientRateLimitStore resilient, SendGuardOptions options) => new(
        resilient,
        new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, TimeProvider.System), new StoreResilienceOptions(), TimeProvider.System),
        null,
        new EmailFeedbackOptions(),
        options,
        TimeProvider.System);
}
