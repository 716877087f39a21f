namespace EmailGuard;

/// <summary>
/// One answer of the <see cref="ITenantLimitProvider"/> for a tenant, as the limit cache keeps it: the tenant's rules,
/// fair-share weight and pool. A check reads its rules and its pool from the same answer, so it looks the tenant up
/// once. A class, compared by reference, so each answer is told from the next, and a check passes one reference.
/// </summary>
/// <param name="rawRules">The rules; <see cref="DefaultRules"/> for the caller's defaults.</param>
/// <param name="weight">The fair-share weight, NaN for none.</param>
/// <param name="hasLimits">Whether the provider gave limits (false: it returned null, has not answered, or there is none, so the tenant has the defaults and the default pool).</param>
/// <param name="pool">The pool its limits name, null for none.</param>
/// <param name="cappedByDefaults">
/// Whether the rules stand capped by the caller's defaults (<see cref="RulesOr"/>): the fallback of a lookup after an
/// invalidation, which applies the stricter of the last answer and the defaults in force at each check, so a reload of
/// the defaults (<see cref="SendGuardReload"/>) reaches it while it is cached.
/// </param>
internal sealed class TenantLimitAnswer(RateLimitRule[] rawRules, double weight, bool hasLimits, string? pool, bool cappedByDefaults = false)
{
    // The stricter rules for the last defaults they were read with: the defaults change only with a reload, so a check
    // reads them from here, and a reload's first check of the tenant makes them anew.
    private volatile CappedRules? _capped;

    /// <summary>
    /// The rules "the default tenant rules" (the provider returned null, or failed with no answer before), told from an
    /// empty list (no limit) by reference, and resolved to the caller's defaults by <see cref="RulesOr"/>: callers pass
    /// different defaults (the fair share's weight lookups pass none), so the first caller's must not be cached as the
    /// tenant's rules, and a tenant whose own limits were removed must not keep them as "the last answer".
    /// </summary>
#pragma warning disable CA1825 // A distinct instance on purpose: compared by reference.
    public static readonly RateLimitRule[] DefaultRules = new RateLimitRule[0];
#pragma warning restore CA1825

    /// <summary>The answer for a tenant the provider has no limits for: the default rules and weight, the default pool.</summary>
    public static readonly TenantLimitAnswer Defaults = new(DefaultRules, double.NaN, false, null);

    /// <summary>The answer of a check that did not look a tenant up (none, or one whose tenant dimension is skipped): no rules.</summary>
    public static readonly TenantLimitAnswer None = new([], double.NaN, false, null);

    /// <summary>Gets the rules as kept, <see cref="DefaultRules"/> standing for the caller's defaults: read them through <see cref="RulesOr"/>.</summary>
    public RateLimitRule[] RawRules { get; } = rawRules;

    /// <summary>Gets the fair-share weight, NaN for none.</summary>
    public double Weight { get; } = weight;

    /// <summary>
    /// Gets a value indicating whether the provider gave the tenant limits of its own: false when it answered null, has
    /// not answered yet, or there is no provider, and the tenant is then in <see cref="SendGuardOptions.DefaultTenantPool"/>.
    /// </summary>
    public bool HasLimits { get; } = hasLimits;

    /// <summary>Gets the pool the tenant's limits name (<see cref="TenantLimits.Pool"/>), null for none; read only when <see cref="HasLimits"/>.</summary>
    public string? Pool { get; } = pool;

    /// <summary>Gets a value indicating whether the rules stand capped by the caller's defaults (an invalidated tenant's fallback).</summary>
    public bool CappedByDefaults { get; } = cappedByDefaults;

    /// <summary>
    /// The tenant's rules: its own, or <paramref name="defaults"/> when the answer is the default rules, or the stricter
    /// of its own and <paramref name="defaults"/> when it is <see cref="CappedByDefaults"/>.
    /// </summary>
    public RateLimitRule[] RulesOr(RateLimitRule[] defaults)
        => ReferenceEquals(RawRules, DefaultRules) ? defaults : CappedByDefaults ? CappedBy(defaults) : RawRules;

    /// <summary>This answer's weight and pool with other rules, as a new object.</summary>
    public TenantLimitAnswer WithRules(RateLimitRule[] other) => new(other, Weight, HasLimits, Pool);

    /// <summary>This answer, capped by the defaults in force wherever its rules are read (<see cref="CappedByDefaults"/>).</summary>
    public TenantLimitAnswer CappedByTheDefaults() => new(RawRules, Weight, HasLimits, Pool, cappedByDefaults: true);

    /// <summary>
    /// The stricter of <paramref name="rules"/> and <paramref name="defaults"/>, shape by shape the lower limit, and every
    /// rule of either side, so a check never admits more than either would.
    /// </summary>
    public static RateLimitRule[] Stricter(RateLimitRule[] rules, RateLimitRule[] defaults)
    {
        if (ReferenceEquals(rules, DefaultRules) || ReferenceEquals(rules, defaults) || defaults.Length == 0)
        {
            return rules;
        }

        return rules.Length == 0 ? defaults : SendGuardRules.Normalize([.. rules, .. defaults]);
    }

    private RateLimitRule[] CappedBy(RateLimitRule[] defaults)
    {
        if (_capped is { } capped && ReferenceEquals(capped.Defaults, defaults))
        {
            return capped.Rules;
        }

        RateLimitRule[] rules = Stricter(RawRules, defaults);
        _capped = new CappedRules(defaults, rules);
        return rules;
    }

    private sealed record CappedRules(RateLimitRule[] Defaults, RateLimitRule[] Rules);
}
