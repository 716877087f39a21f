using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="EmailRatioBreakerOptions"/> at startup, naming each setting by its full configuration path.</summary>
/// <param name="sendGuard">The send guard's options, whose tenant pools <see cref="EmailRatioBreakerOptions.ExcludedTenantPools"/> must name.</param>
internal sealed class EmailRatioBreakerOptionsValidator(IOptions<SendGuardOptions> sendGuard) : IValidateOptions<EmailRatioBreakerOptions>
{
    private const string Root = "EmailGuard:RatioBreakers";

    public ValidateOptionsResult Validate(string? name, EmailRatioBreakerOptions options)
    {
        List<string> failures = [];
        Rate(failures, nameof(options.BounceRateToReduce), options.BounceRateToReduce);
        Rate(failures, nameof(options.BounceRateToSuspend), options.BounceRateToSuspend);
        Rate(failures, nameof(options.ComplaintRateToReduce), options.ComplaintRateToReduce);
        Rate(failures, nameof(options.ComplaintRateToSuspend), options.ComplaintRateToSuspend);
        Rate(failures, nameof(options.ReducedLimitFactor), options.ReducedLimitFactor);
        if (options.BounceRateToSuspend < options.BounceRateToReduce)
        {
            failures.Add($"{Root}:BounceRateToSuspend must be at least {Root}:BounceRateToReduce.");
        }

        if (options.ComplaintRateToSuspend < options.ComplaintRateToReduce)
        {
            failures.Add($"{Root}:ComplaintRateToSuspend must be at least {Root}:ComplaintRateToReduce.");
        }

        if (options.MinimumSends is < 1 or > 10_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:MinimumSends must be from 1 to 10000000; it is {options.MinimumSends}."));
        }

        if (options.NetworkBouncesToBan is < 0 or > 1_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:NetworkBouncesToBan must be from 0 (off) to 1000000; it is {options.NetworkBouncesToBan}."));
        }

        Duration(failures, nameof(options.TripFor), options.TripFor);
        Duration(failures, nameof(options.MaxTripFor), options.MaxTripFor);
        Duration(failures, nameof(options.EscalationMemory), options.EscalationMemory);
        if (options.MaxTripFor < options.TripFor)
        {
            failures.Add($"{Root}:MaxTripFor must be at least {Root}:TripFor.");
        }

        if (options.HalfOpenFor != TimeSpan.Zero
            && (options.HalfOpenFor < TimeSpan.FromMinutes(1) || options.HalfOpenFor > TimeSpan.FromDays(30) || options.HalfOpenFor.Ticks % TimeSpan.TicksPerSecond != 0))
        {
            failures.Add($"{Root}:HalfOpenFor must be 0 (no half-open phase) or a whole number of seconds from 1 minute to 30 days; it is {options.HalfOpenFor}.");
        }

        Rate(failures, nameof(options.AccountBounceRateToTighten), options.AccountBounceRateToTighten);
        Rate(failures, nameof(options.AccountBounceRateToRelease), options.AccountBounceRateToRelease);
        Rate(failures, nameof(options.AccountComplaintRateToTighten), options.AccountComplaintRateToTighten);
        Rate(failures, nameof(options.AccountComplaintRateToRelease), options.AccountComplaintRateToRelease);
        if (options.AccountBounceRateToRelease >= options.AccountBounceRateToTighten)
        {
            failures.Add($"{Root}:AccountBounceRateToRelease must be below {Root}:AccountBounceRateToTighten.");
        }

        if (options.AccountComplaintRateToRelease >= options.AccountComplaintRateToTighten)
        {
            failures.Add($"{Root}:AccountComplaintRateToRelease must be below {Root}:AccountComplaintRateToTighten.");
        }

        if (options.AccountMinimumSends is < 1 or > 100_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:AccountMinimumSends must be from 1 to 100000000; it is {options.AccountMinimumSends}."));
        }

        if (options.AccountCheckEvery < TimeSpan.FromMinutes(1) || options.AccountCheckEvery > TimeSpan.FromDays(1))
        {
            failures.Add($"{Root}:AccountCheckEvery must be from 1 minute to 1 day; it is {options.AccountCheckEvery}.");
        }

        for (int i = 0; i < options.RiskyCategories.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.RiskyCategories[i]) || options.RiskyCategories[i].Length > 256)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:RiskyCategories:{StrictConfiguration.ItemKey(options.RiskyCategories, i)} must be a category name of 1 to 256 characters."));
            }
        }

        if (options.ExcludedTenantPools.Count != 0)
        {
            ExcludedPools(failures, options.ExcludedTenantPools);
        }

        if (options.HalfOpenMinimumSends is < 1 or > 10_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:HalfOpenMinimumSends must be from 1 to 10000000; it is {options.HalfOpenMinimumSends}."));
        }

        if (!(options.EscalationFactor >= 1 && options.EscalationFactor <= 100))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:EscalationFactor must be from 1 (no escalation) to 100; it is {options.EscalationFactor}."));
        }

        Duration(failures, nameof(options.NetworkBanFor), options.NetworkBanFor);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Rate(List<string> failures, string setting, double value)
    {
        if (!(value > 0 && value <= 1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:{setting} must be a fraction above 0 and at most 1 (0.02 is 2 %); it is {value}."));
        }
    }

    private static void Duration(List<string> failures, string setting, TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromDays(366))
        {
            failures.Add($"{Root}:{setting} must be from 1 second to 366 days; it is {value}.");
        }
    }

    /// <summary>Each excluded pool must name a pool with rules: a typo would leave the pool it meant judged, silently.</summary>
    private void ExcludedPools(List<string> failures, IList<string> excluded)
    {
        IReadOnlySet<string> pools;
        try
        {
            pools = TenantPoolRules.Names(sendGuard.Value);
        }
        catch (OptionsValidationException)
        {
            // The send guard's options fail on their own, with their own message; thrown from here, that failure would
            // be reported twice and hide the breakers' own failures.
            return;
        }

        for (int i = 0; i < excluded.Count; i++)
        {
            string? name = excluded[i];
            string path = $"{Root}:ExcludedTenantPools:{StrictConfiguration.ItemKey(excluded, i)}";
            if (string.IsNullOrWhiteSpace(name) || name.Length > TenantPoolRules.MaxNameLength || name.Trim().Length != name.Length)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path} must be a tenant pool's name of 1 to {TenantPoolRules.MaxNameLength} characters, without whitespace around it."));
            }
            else if (!pools.Contains(name.ToLowerInvariant()))
            {
                failures.Add($"{path} names the tenant pool '{name}', which has no rules in EmailGuard:SendGuard:TenantPools; only a pool with rules is judged, so this excludes nothing. Fix the name or remove it.");
            }
        }
    }
}
