using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Refuses a <see cref="SendGuardOptions.TenantLimitCacheDuration"/> shorter than <see cref="StoreResilienceOptions.Timeout"/>
/// when a tenant limit provider is registered. A check waits for the provider at most the timeout; an answer kept for
/// less than that is gone before the lookup of a provider slower than the timeout completes, so no check ever used it:
/// every check silently got the default tenant rules. Zero was the usual way to ask for "always current" limits;
/// <see cref="IEmailGuardTenantLimits"/> is the way now.
/// </summary>
internal sealed class TenantLimitCacheDurationValidator(IOptions<StoreResilienceOptions> resilience, IServiceProviderIsService? services = null)
    : IValidateOptions<SendGuardOptions>
{
    public ValidateOptionsResult Validate(string? name, SendGuardOptions options)
    {
        if (services?.IsService(typeof(ITenantLimitProvider)) != true)
        {
            return ValidateOptionsResult.Skip;
        }

        TimeSpan timeout;
        try
        {
            timeout = resilience.Value.Timeout;
        }
        catch (OptionsValidationException)
        {
            // Its own validation reports it.
            return ValidateOptionsResult.Skip;
        }

        if (options.TenantLimitCacheDuration >= timeout)
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail(string.Create(CultureInfo.InvariantCulture,
            $"EmailGuard:SendGuard:TenantLimitCacheDuration must be at least EmailGuard:Resilience:Timeout ({timeout}) when a tenant limit provider is registered; it is {options.TenantLimitCacheDuration}. ")
            + "A check waits for the provider at most that timeout, and an answer cached for less is gone before a slower lookup completes, so every check would get the default tenant limits. "
            + "To apply a tenant's new limits at once, call IEmailGuardTenantLimits.InvalidateAsync.");
    }
}
