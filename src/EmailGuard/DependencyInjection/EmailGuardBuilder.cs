using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard;

internal sealed class EmailGuardBuilder(IServiceCollection services) : IEmailGuardBuilder
{
    public IServiceCollection Services { get; } = services;
}
