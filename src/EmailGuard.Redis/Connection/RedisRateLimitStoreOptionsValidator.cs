using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Redis;

/// <summary>Checks the attributes of <see cref="RedisRateLimitStoreOptions"/> at startup, naming the setting by its full path.</summary>
internal sealed partial class RedisRateLimitStoreOptionsValidator : IValidateOptions<RedisRateLimitStoreOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, RedisRateLimitStoreOptions options)
    {
        // The generated checks name the property alone (WaitForReplicas: …); startup failures name the full path.
        ValidateOptionsResult result = _attributes.Validate(name, options);
        return result.Failed && result.Failures is { } failures
            ? ValidateOptionsResult.Fail(failures.Select(failure => $"{EmailGuardRedisBuilderExtensions.ConfigurationSectionName}:{failure}"))
            : result;
    }

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<RedisRateLimitStoreOptions>;
}
