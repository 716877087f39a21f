using EmailGuard.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Binds <see cref="RedisRateLimitStoreOptions"/> from <c>EmailGuard:Redis</c> when the app has configuration; a plain
/// service collection without <see cref="IConfiguration"/> leaves the options to code.
/// </summary>
internal sealed class RedisOptionsFromConfiguration(IConfiguration? configuration = null) : IConfigureOptions<RedisRateLimitStoreOptions>
{
    public void Configure(RedisRateLimitStoreOptions options)
        => configuration?.GetSection(EmailGuardRedisBuilderExtensions.ConfigurationSectionName).Bind(options);
}
