using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="StoreResilienceOptions"/> at startup, naming the setting that is out of range by its full path.</summary>
internal sealed partial class StoreResilienceOptionsValidator : IValidateOptions<StoreResilienceOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, StoreResilienceOptions options)
    {
        string section = $"{EmailGuardServiceCollectionExtensions.ConfigurationSectionName}:Resilience";
        ValidateOptionsResult result = EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), section, options);

        // A full load bounded below one ordinary call would fail where a single read succeeds.
        if (!result.Failed && options.StateLoadTimeout is { } load && load < options.Timeout)
        {
            return ValidateOptionsResult.Fail(
                $"{section}:StateLoadTimeout must be at least {section}:Timeout ({options.Timeout}); it is {load}.");
        }

        return result;
    }

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<StoreResilienceOptions>;
}
