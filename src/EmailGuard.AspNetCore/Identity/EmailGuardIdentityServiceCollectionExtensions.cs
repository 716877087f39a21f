using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts the send guard in front of ASP.NET Core Identity's email sender.</summary>
public static class EmailGuardIdentityServiceCollectionExtensions
{
    /// <summary>
    /// Decorates the <see cref="IEmailSender{TUser}"/> already registered, so that every confirmation and password reset
    /// mail is checked by the send guard first. Call it after registering your sender and after <c>AddEmailGuard()</c>;
    /// it adds the send guard if needed. Safe to call more than once: the sender is decorated once, and every
    /// <paramref name="configure"/> applies to that one decoration.
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

        // The sender passes the request's address to the send guard's ClientIp rules: warn if any client can set it.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ForwardedHeadersTrustCheck>());

        // Called again (two modules, or a helper run twice): configure the existing decoration, never wrap it again.
        if (IdentitySenderDecoration<TUser>.Of(registered) is { } existing)
        {
            configure?.Invoke(existing.Options);
            return services;
        }

        IdentitySenderDecoration<TUser> decoration = new(registered);
        configure?.Invoke(decoration.Options);
        services.Remove(registered);
        services.Add(decoration.Describe());
        services.AddSingleton<IConfigureOptions<EmailRatioBreakerOptions>>(sp => new IdentityRiskyCategory<TUser>(decoration.Options, sp.GetService<IConfiguration>()));
        return services;
    }
}
