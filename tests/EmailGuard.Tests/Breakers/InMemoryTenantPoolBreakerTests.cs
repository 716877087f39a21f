using EmailGuard.Testing.Breakers;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>The tenant pool's ratio breaker, and under attack, on the in-memory stores: one instance records the feedback and checks the mail.</summary>
public sealed class InMemoryTenantPoolBreakerTests : TenantPoolBreakerScenarioTests, IAsyncLifetime
{
    private ServiceProvider? _instance;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }
    }

    protected override IServiceProvider CreateInstance(int index, Action<IServiceCollection> configure, Action<SendGuardOptions> guard)
    {
        if (_instance is not null)
        {
            return _instance;
        }

        ServiceCollection services = new();
        configure(services);
        services.AddEmailGuard().AddSendGuard(guard);
        _instance = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        return _instance;
    }
}
