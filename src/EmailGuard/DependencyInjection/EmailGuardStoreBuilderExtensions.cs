using EmailGuard;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Puts EmailGuard's counters, its lists and flags, or its small shared key-value memory in a store of your own. The
/// Redis package registers its stores through these methods too.
/// </summary>
/// <remarks>
/// A store is a singleton. It is called through <see cref="IResilientRateLimitStore"/> (counters), behind the state
/// cache (lists and flags) or with a timeout (key-value), which add the timeout, the circuit breaker and the failure
/// modes, so a store only talks to its backend and throws when it cannot. Validate arguments with
/// <see cref="RateLimitValidation"/> or <see cref="KeyValueStoreValidation"/>, and run the shared contract suite against it.
/// Without any of these calls EmailGuard keeps everything in memory.
/// </remarks>
public static class EmailGuardStoreBuilderExtensions
{
    /// <summary>
    /// Replaces the in-memory counters with <typeparamref name="TStore"/>, created by the service provider. Safe to call
    /// more than once; the last call's store wins.
    /// </summary>
    /// <typeparam name="TStore">The store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddRateLimitStore<TStore>(this IEmailGuardBuilder builder)
        where TStore : class, IRateLimitStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        return UseStore<IRateLimitStore, TStore>(builder, null);
    }

    /// <summary>
    /// Replaces the in-memory counters with the store <paramref name="factory"/> creates. Safe to call more than once;
    /// the first factory registered for <typeparamref name="TStore"/> creates it.
    /// </summary>
    /// <typeparam name="TStore">The store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <param name="factory">Creates the store, once.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddRateLimitStore<TStore>(this IEmailGuardBuilder builder, Func<IServiceProvider, TStore> factory)
        where TStore : class, IRateLimitStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        return UseStore<IRateLimitStore, TStore>(builder, factory);
    }

    /// <summary>
    /// Replaces the in-memory lists and flags of the send guard with <typeparamref name="TStore"/>, created by the
    /// service provider. Safe to call more than once; the last call's store wins.
    /// </summary>
    /// <typeparam name="TStore">The state store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddStateStore<TStore>(this IEmailGuardBuilder builder)
        where TStore : class, IEmailGuardStateStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        return UseStore<IEmailGuardStateStore, TStore>(builder, null);
    }

    /// <summary>
    /// Replaces the in-memory lists and flags of the send guard with the store <paramref name="factory"/> creates. Safe
    /// to call more than once; the first factory registered for <typeparamref name="TStore"/> creates it.
    /// </summary>
    /// <typeparam name="TStore">The state store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <param name="factory">Creates the store, once.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddStateStore<TStore>(this IEmailGuardBuilder builder, Func<IServiceProvider, TStore> factory)
        where TStore : class, IEmailGuardStateStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        return UseStore<IEmailGuardStateStore, TStore>(builder, factory);
    }

    /// <summary>
    /// Replaces the in-memory key-value store (feedback's message-id mappings, webhook replay tokens, breaker memory,
    /// fan-out and the dashboard's activity) with <typeparamref name="TStore"/>, created by the service provider. Safe to
    /// call more than once; the last call's store wins.
    /// </summary>
    /// <typeparam name="TStore">The key-value store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddKeyValueStore<TStore>(this IEmailGuardBuilder builder)
        where TStore : class, IEmailGuardKeyValueStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        return UseStore<IEmailGuardKeyValueStore, TStore>(builder, null);
    }

    /// <summary>
    /// Replaces the in-memory key-value store (feedback's message-id mappings, webhook replay tokens, breaker memory,
    /// fan-out and the dashboard's activity) with the store <paramref name="factory"/> creates. Safe to call more than
    /// once; the first factory registered for <typeparamref name="TStore"/> creates it.
    /// </summary>
    /// <typeparam name="TStore">The key-value store; also resolvable as itself.</typeparam>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <param name="factory">Creates the store, once.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddKeyValueStore<TStore>(this IEmailGuardBuilder builder, Func<IServiceProvider, TStore> factory)
        where TStore : class, IEmailGuardKeyValueStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        return UseStore<IEmailGuardKeyValueStore, TStore>(builder, factory);
    }

    /// <summary>
    /// Registers <typeparamref name="TStore"/> (by <paramref name="factory"/>, else by the service provider) unless it
    /// is registered already, and replaces whatever served <typeparamref name="TService"/> with it.
    /// </summary>
    private static IEmailGuardBuilder UseStore<TService, TStore>(IEmailGuardBuilder builder, Func<IServiceProvider, TStore>? factory)
        where TService : class
        where TStore : class, TService
    {
        if (factory is null)
        {
            builder.Services.TryAddSingleton<TStore>();
        }
        else
        {
            builder.Services.TryAddSingleton(factory);
        }

        builder.Services.Replace(ServiceDescriptor.Singleton<TService>(static sp => sp.GetRequiredService<TStore>()));
        return builder;
    }
}
