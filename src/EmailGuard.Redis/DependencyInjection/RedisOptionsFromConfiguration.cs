using EmailGuard;
using EmailGuard.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Binds <see cref="RedisRateLimitStoreOptions"/> from <c>EmailGuard:Redis</c> when the app has configuration; a plain
/// service collection without <see cref="IConfiguration"/> leaves the options to code. Binding is strict like every
/// other EmailGuard section: an unknown key or a value that does not convert fails startup naming the setting, beside
/// the validators' failures (<see cref="StrictOptionsFactory{TOptions}"/>).
/// </summary>
internal sealed class RedisOptionsFromConfiguration(IConfiguration? configuration = null) : IConfigureOptions<RedisRateLimitStoreOptions>
{
    public void Configure(RedisRateLimitStoreOptions options)
    {
        if (configuration is not null)
        {
            StrictConfiguration.Bind(configuration.GetSection(EmailGuardRedisBuilderExtensions.ConfigurationSectionName), options);
        }
    }
}
