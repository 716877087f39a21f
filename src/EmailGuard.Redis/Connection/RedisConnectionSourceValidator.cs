using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The cross-field rule of <see cref="RedisRateLimitStoreOptions"/>: the connection comes from exactly one place.
/// Two explicit sources would make it unclear which Redis holds the counters; none, with no multiplexer registered,
/// would fail only at the first email.
/// </summary>
internal sealed class RedisConnectionSourceValidator(IServiceProviderIsService? isService) : IValidateOptions<RedisRateLimitStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisRateLimitStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int explicitSources = (string.IsNullOrWhiteSpace(options.Configuration) ? 0 : 1)
            + (options.ConfigurationOptions is null ? 0 : 1)
            + (options.ConnectionMultiplexerFactory is null ? 0 : 1);
        if (explicitSources > 1)
        {
            return ValidateOptionsResult.Fail(
                "RedisRateLimitStoreOptions: set only one of Configuration, ConfigurationOptions and ConnectionMultiplexerFactory.");
        }

        if (explicitSources == 0 && isService?.IsService(typeof(IConnectionMultiplexer)) != true)
        {
            return ValidateOptionsResult.Fail(
                "RedisRateLimitStoreOptions: no Redis connection. Set Configuration (e.g. \"localhost:6379\"), ConfigurationOptions or "
                + "ConnectionMultiplexerFactory, or register an IConnectionMultiplexer in the service collection.");
        }

        return ValidateOptionsResult.Success;
    }
}
