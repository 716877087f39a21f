using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EmailGuard.AspNetCore.Tests.Registration;

/// <summary><c>AddHealthChecks().AddEmailGuardStore()</c>, which moved here so that the core needs only the abstractions.</summary>
public sealed class HealthCheckRegistrationTests
{
    [Fact]
    public async Task AddEmailGuardStore_Registered_HealthCheckServiceReportsTheCircuit()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard();
        services.AddHealthChecks().AddEmailGuardStore(tags: ["ready"]);
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Should().ContainSingle().Which.Key.Should().Be(EmailGuardHealthChecksBuilderExtensions.DefaultName);
        report.Entries[EmailGuardHealthChecksBuilderExtensions.DefaultName].Status.Should().Be(HealthStatus.Healthy);
        report.Entries[EmailGuardHealthChecksBuilderExtensions.DefaultName].Tags.Should().Contain("ready");
    }

    [Fact]
    public async Task AddEmailGuardStore_WithoutAddEmailGuard_FailsNamingWhatToAdd()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddHealthChecks().AddEmailGuardStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        Func<Task> act = () => provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*AddEmailGuard()*");
    }
}
