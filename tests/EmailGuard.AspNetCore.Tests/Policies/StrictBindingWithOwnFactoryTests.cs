using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A setting the strict binding refuses still fails the start when the app registers its own options factory.</summary>
public sealed class StrictBindingWithOwnFactoryTests
{
    [Fact]
    public async Task Startup_MisspeltSettingWithTheAppsOwnOptionsFactory_Fails()
    {
        // The stock factory, registered by the app for its own reasons (a decorator, a test double): it runs the
        // validators, and the binding's refusals must reach it through one of them.
        Dictionary<string, string?> configuration = TestSettings.Parse("EmailGuard:Endpoints:MaxBodyByts=5");

        Func<Task> start = () => TestApp.StartAsync(
            s =>
            {
                s.AddTransient<IOptionsFactory<EmailGuardEndpointOptions>, OptionsFactory<EmailGuardEndpointOptions>>();
                s.AddEmailGuard().AddEndpointPolicies();
            },
            a => a.MapPost("/signup", () => Results.Ok()),
            configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:Endpoints:MaxBodyByts: unknown setting; did you mean MaxBodyBytes?", StringComparison.Ordinal));
    }
}
