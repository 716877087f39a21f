namespace EmailGuard;

/// <summary>
/// What a check needs of one provider answer for a tenant: its rules (the caller's defaults when it has none of its
/// own) and its pool, read from the same answer, so a check looks the tenant up once.
/// </summary>
internal readonly struct TenantLimitAnswer
{
    private readonly RateLimitRule[]? _rules;

    /// <param name="rules">The tenant's rules.</param>
    /// <param name="hasLimits">Whether the answer gave the tenant limits of its own (false: the default pool applies).</param>
    /// <param name="pool">The pool its limits name, null for none.</param>
    public TenantLimitAnswer(RateLimitRule[] rules, bool hasLimits, string? pool)
    {
        _rules = rules;
        HasLimits = hasLimits;
        Pool = pool;
    }

    /// <summary>Gets the tenant's rules; none for <see langword="default"/>.</summary>
    public RateLimitRule[] Rules => _rules ?? [];

    /// <summary>
    /// Gets a value indicating whether the provider gave the tenant limits of its own: false when it answered null, has
    /// not answered yet, or there is no provider, and the tenant is then in <see cref="SendGuardOptions.DefaultTenantPool"/>.
    /// </summary>
    public bool HasLimits { get; }

    /// <summary>Gets the pool the tenant's limits name (<see cref="TenantLimits.Pool"/>), null for none; read only when <see cref="HasLimits"/>.</summary>
    public string? Pool { get; }
}
