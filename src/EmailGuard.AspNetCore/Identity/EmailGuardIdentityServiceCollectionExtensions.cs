using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts the send guard in front of ASP.NET Core Identity's email sender.</summary>
public static class EmailGuardIdentityServiceCollectionExtensions
{
    /// <summary>
    /// Decorates the <see cref="IEmailSender{TUser}"/> already registered, so that every confirmation and password reset
    /// mail is checked by the send guard first. Call it after registering your sender and after <c>AddEmailGuard()</c>;
    /// it adds the send guard if needed.
    /// </summary>
    /// <typeparam name="TUser">The Identity user type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="configure">Maps users to ids and tenants, and names the categories.</param>
    /// <returns>The services.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="IEmailSender{TUser}"/> is registered.</exception>
    public static IServiceCollection AddEmailGuardIdentitySender<TUser>(this IServiceCollection services, Action<IdentityEmailGuardOptions<TUser>>? configure = null)
        where TUser : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ServiceDescriptor? registered = services.LastOrDefault(d => d.ServiceType == typeof(IEmailSender<TUser>));
        if (registered is null)
        {
            throw new InvalidOperationException(
                $"AddEmailGuardIdentitySender<{typeof(TUser).Name}>() decorates an IEmailSender<{typeof(TUser).Name}>, but none is registered. Register yours first, e.g. services.AddTransient<IEmailSender<{typeof(TUser).Name}>, MyEmailSender>().");
        }

        if (registered.IsKeyedService)
        {
            throw new InvalidOperationException($"The registered IEmailSender<{typeof(TUser).Name}> is keyed; register it without a key to decorate it.");
        }

        services.AddEmailGuard().AddSendGuard();
        IdentityEmailGuardOptions<TUser> options = new();
        configure?.Invoke(options);

        services.Remove(registered);
        services.Add(ServiceDescriptor.Describe(
            typeof(IEmailSender<TUser>),
            sp => new GuardedIdentityEmailSender<TUser>(
                CreateInner<TUser>(sp, registered),
                sp.GetRequiredService<IEmailSendGuard>(),
                options,
                sp.GetService<IHttpContextAccessor>(),
                sp.GetService<ILogger<GuardedIdentityEmailSender<TUser>>>() ?? NullLogger<GuardedIdentityEmailSender<TUser>>.Instance),
            registered.Lifetime));
        return services;
    }

    private static IEmailSender<TUser> CreateInner<TUser>(IServiceProvider services, ServiceDescriptor registered)
        where TUser : class
    {
        if (registered.ImplementationInstance is IEmailSender<TUser> instance)
        {
            return instance;
        }

        if (registered.ImplementationFactory is { } factory)
        {
            return (IEmailSender<TUser>)factory(services);
        }

        return (IEmailSender<TUser>)ActivatorUtilities.CreateInstance(services, registered.ImplementationType!);
    }
}
