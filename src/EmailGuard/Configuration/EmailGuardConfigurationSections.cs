using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Registers what binds a section below <c>EmailGuard</c>, strictly, and records the section so that a misspelt
/// section name (<c>EmailGuard:SendGaurd</c>) fails at startup instead of leaving every limit in it off.
/// </summary>
internal static class EmailGuardConfigurationSections
{
    /// <summary>
    /// Sections read by a part that may be absent from this app: the endpoint options when only the core is
    /// registered (a worker sharing the web app's settings), a Redis connection the app reads itself, and the feedback
    /// webhooks of the ASP.NET Core package.
    /// </summary>
    public static readonly IReadOnlyList<string> ReadElsewhere = ["Endpoints", "Redis", "Webhooks"];

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <c>EmailGuard:<paramref name="name"/></c> with
    /// <see cref="StrictConfiguration"/>. Use this for every new section, so the section check knows it.
    /// </summary>
    public static void Bind<TOptions>(IServiceCollection services, string name)
        where TOptions : class
    {
        services.AddSingleton(new EmailGuardConfigurationSection(name));
        services.AddSingleton<IConfigureOptions<TOptions>>(sp => new ConfigureFromConfiguration<TOptions>(
            sp.GetService<IConfiguration>(),
            $"{EmailGuardServiceCollectionExtensions.ConfigurationSectionName}:{name}"));
    }
}
