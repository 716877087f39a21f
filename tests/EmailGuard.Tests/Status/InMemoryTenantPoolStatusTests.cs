using EmailGuard.Testing.Status;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Status;

/// <summary>A tenant pool's own status on the in-memory stores.</summary>
public sealed class InMemoryTenantPoolStatusTests : TenantPoolStatusScenarioTests, IAsyncLifetime
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

    protected override IServiceProvider CreateInstance(Action<IServiceCollection> configure, Action<SendGuardOptions> guard)
    {
        ServiceCollection services = new();
        configure(services);
        services.AddEmailGuard().AddSendGuard(guard);
        _instance = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        return _instance;
    }
}
