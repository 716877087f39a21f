using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Redis;

/// <summary>Checks the attributes of <see cref="RedisRateLimitStoreOptions"/> at startup, naming the setting by its full path.</summary>
internal sealed partial class RedisRateLimitStoreOptionsValidator : IValidateOptions<RedisRateLimitStoreOptions>
{
    private readonly Attributes _attributes = new();

    // The generated checks name the property alone (WaitForReplicas: …); startup failures name the full path and the value.
    public ValidateOptionsResult Validate(string? name, RedisRateLimitStoreOptions options)
        => EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), EmailGuardRedisBuilderExtensions.ConfigurationSectionName, options);

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<RedisRateLimitStoreOptions>;
}
