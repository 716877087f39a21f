using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Tenants;

/// <summary>
/// The tenant limit provider of the sample: custom hourly and daily caps from the app's own <c>tenants</c> table, and
/// a fair-share weight by plan (enterprise 5, business 2, trial 1). A tenant without custom caps gets the configured
/// defaults; an unknown tenant gets the defaults and the default weight. The send guard caches each answer
/// (<c>SendGuardOptions.TenantLimitCacheDuration</c>), so a check costs no query.
/// </summary>
internal sealed class SqliteTenantLimitProvider(SampleDatabase database, IOptions<SendGuardOptions> options) : ITenantLimitProvider
{
    public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (database.FindTenant(tenantId) is not { } tenant)
        {
            return ValueTask.FromResult<TenantLimits?>(null);
        }

        // Same windows as the defaults, other limits: the tenant keeps its counters when its caps change.
        List<RateLimitRule> rules = [];
        foreach (RateLimitRuleOptions rule in options.Value.Tenant.Rules)
        {
            long? custom = rule.Window == TimeSpan.FromHours(1) ? tenant.HourlyLimit
                : rule.Window == TimeSpan.FromDays(1) ? tenant.DailyLimit
                : null;
            rules.Add(rule.ToRule().WithLimit(custom ?? rule.Limit));
        }

        return ValueTask.FromResult<TenantLimits?>(new TenantLimits { Rules = rules, FairShareWeight = WeightOf(tenant.Plan) });
    }

    /// <summary>The tenant's weight in the fair share of the provider's budget: a paying plan gets a larger share.</summary>
    public static double WeightOf(string plan) => plan switch
    {
        "enterprise" => 5,
        "business" => 2,
        _ => 1,
    };
}
