using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmailGuard.Redis;

/// <summary>Puts the send guard's lists and flags in Redis next to the counters.</summary>
internal static class EmailGuardRedisStateServiceCollectionExtensions
{
    /// <summary>Replaces the in-memory state store with the Redis one over the shared <see cref="RedisConnection"/>.</summary>
    public static IServiceCollection AddRedisGuardState(this IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<IEmailGuardStateStore>(sp => new RedisEmailGuardStateStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>())));
        return services;
    }
}
