using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="InMemoryRateLimitStoreOptions"/> at startup, naming the setting that is out of range by its full path.</summary>
internal sealed partial class InMemoryRateLimitStoreOptionsValidator : IValidateOptions<InMemoryRateLimitStoreOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, InMemoryRateLimitStoreOptions options)
        => EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), $"{EmailGuardServiceCollectionExtensions.ConfigurationSectionName}:InMemoryStore", options);

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<InMemoryRateLimitStoreOptions>;
}
