using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard.AspNetCore;

/// <summary>
/// One decoration of the app's Identity sender: the sender it wraps and the options every
/// <c>AddEmailGuardIdentitySender</c> call configures. The decorating descriptor's factory is <see cref="Create"/>, so a
/// second call recognizes its own descriptor and configures this decoration instead of wrapping it again, which would
/// check (and count) every mail twice.
/// </summary>
internal sealed class IdentitySenderDecoration<TUser>(ServiceDescriptor inner)
    where TUser : class
{
    public IdentityEmailGuardOptions<TUser> Options { get; } = new();

    /// <summary>The decoration that <paramref name="descriptor"/> registers, if it is one of ours.</summary>
    public static IdentitySenderDecoration<TUser>? Of(ServiceDescriptor descriptor)
        => descriptor is { IsKeyedService: false, ImplementationFactory.Target: IdentitySenderDecoration<TUser> decoration } ? decoration : null;

    public ServiceDescriptor Describe() => ServiceDescriptor.Describe(typeof(IEmailSender<TUser>), Create, inner.Lifetime);

    private IEmailSender<TUser> Create(IServiceProvider services)
        => new GuardedIdentityEmailSender<TUser>(
            CreateInner(services),
            services.GetRequiredService<IEmailSendGuard>(),
            Options,
            services.GetService<IHttpContextAccessor>(),
            services.GetService<ILogger<GuardedIdentityEmailSender<TUser>>>() ?? NullLogger<GuardedIdentityEmailSender<TUser>>.Instance,
            services.GetService<IEmailGuardFeedback>());

    private IEmailSender<TUser> CreateInner(IServiceProvider services)
    {
        if (inner.ImplementationInstance is IEmailSender<TUser> instance)
        {
            return instance;
        }

        if (inner.ImplementationFactory is { } factory)
        {
            return (IEmailSender<TUser>)factory(services);
        }

        return (IEmailSender<TUser>)ActivatorUtilities.CreateInstance(services, inner.ImplementationType!);
    }
}
