using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>Builds a service provider the way an app registers EmailGuard, with a fake clock and a fake logger.</summary>
internal static class SendGuardTestServices
{
    public static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    public static ServiceProvider Build(
        Action<SendGuardOptions>? configure = null,
        IDictionary<string, string?>? configuration = null,
        Action<IServiceCollection>? more = null,
        FakeTimeProvider? time = null,
        FakeLogCollector? logs = null)
    {
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(time ?? new FakeTimeProvider(Start));
        if (configuration is not null)
        {
            services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build());
        }

        if (logs is not null)
        {
            services.AddSingleton<ILoggerFactory>(new LoggerFactory([new FakeLoggerProvider(logs)]));
            services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        }

        more?.Invoke(services);
        services.AddEmailGuard().AddSendGuard(o =>
        {
            o.StateRefreshInterval = TimeSpan.Zero;
            configure?.Invoke(o);
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
