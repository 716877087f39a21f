using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Registers what binds a section below <c>EmailGuard</c>, strictly, and records the section so that a misspelt
/// section name (<c>EmailGuard:SendGaurd</c>) fails at startup instead of leaving every limit in it off. Public so that
/// sibling and third-party packages (a store, the dashboard's alerts) bind their sections on the same terms.
/// </summary>
public static class EmailGuardConfigurationSections
{
    /// <summary>
    /// Sections read by a part that may be absent from this app: the endpoint options when only the core is
    /// registered (a worker sharing the web app's settings), a Redis connection the app reads itself, and the feedback
    /// webhooks of the ASP.NET Core package.
    /// </summary>
    internal static readonly IReadOnlyList<string> ReadElsewhere = ["Endpoints", "Redis", "Webhooks"];

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <c>EmailGuard:<paramref name="name"/></c> with
    /// strict binding: an unknown key or a value that does not convert fails at startup with the setting's full path,
    /// together with the failures of the options' validators that hold of what was configured.
    /// Use this for every new section, so the section check knows it. Validate the options yourself
    /// (<c>AddOptions&lt;TOptions&gt;().ValidateOnStart()</c> plus an <see cref="IValidateOptions{TOptions}"/>).
    /// </summary>
    /// <typeparam name="TOptions">The options type the section binds to.</typeparam>
    /// <param name="services">The services EmailGuard is registered in.</param>
    /// <param name="name">The section's key below <c>EmailGuard</c>, e.g. <c>Alerts</c>.</param>
    public static void Bind<TOptions>(IServiceCollection services, string name)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.AddSingleton(new EmailGuardConfigurationSection(name));
        services.TryAddTransient<IOptionsFactory<TOptions>, StrictOptionsFactory<TOptions>>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, StrictBindingValidation<TOptions>>());
        services.AddSingleton<IConfigureOptions<TOptions>>(sp => new ConfigureFromConfiguration<TOptions>(
            sp.GetService<IConfiguration>(),
            $"{EmailGuardServiceCollectionExtensions.ConfigurationSectionName}:{name}"));
    }

    /// <summary>
    /// Names each failure of a source-generated options validator (<c>[OptionsValidator]</c>), which gives the property
    /// alone in .NET's words (<c>MaxBodyBytes: The field EmailGuardEndpointOptions.MaxBodyBytes must be between 1 and
    /// 16777216.</c>), by its full configuration path in the words of the hand-written checks, ending with the value given
    /// (<c>EmailGuard:Endpoints:MaxBodyBytes must be between 1 and 16777216; it is 0.</c>), so that the failures of every
    /// section read alike. <c>[Range]</c>, <c>[Required]</c>, <c>[MinLength]</c>, <c>[MaxLength]</c>,
    /// <c>[StringLength]</c>, <c>[Length]</c> and <c>[Url]</c> are reworded; an attribute's own <c>ErrorMessage</c> that
    /// opens with the property's name is given the path in front. Only numbers, time spans and lengths are quoted back,
    /// never a string.
    /// </summary>
    /// <param name="result">The generated validator's result.</param>
    /// <param name="section">The options' configuration section, such as <c>EmailGuard:Redis</c>.</param>
    /// <param name="options">The options validated.</param>
    /// <returns>The result, each failure opening with its setting's full path; a success as it is.</returns>
    public static ValidateOptionsResult NameFailures(ValidateOptionsResult result, string section, object options)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrWhiteSpace(section);
        ArgumentNullException.ThrowIfNull(options);
        return result.Failed && result.Failures is { } failures
            ? ValidateOptionsResult.Fail(failures.Select(failure => OptionsFailureWording.Reword(failure, section, options)))
            : result;
    }
}
