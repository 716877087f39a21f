using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Builds, while the app is being set up (before <c>StartAsync</c>), a service that reads options: mapping the feedback
/// webhooks needs to know which providers are on. A bad setting met there would otherwise fail alone, for its section only,
/// and each further bad setting would take another restart; instead the app fails as its start does with
/// <c>ValidateOnStart</c>, with every bad setting of every section (one <see cref="OptionsValidationException"/>, or an
/// <see cref="AggregateException"/> of one per options type).
/// </summary>
internal static class StartupValidation
{
    public static T Resolve<T>(IServiceProvider services, Func<IServiceProvider, T> resolve)
    {
        try
        {
            return resolve(services);
        }
        catch (OptionsValidationException) when (services.GetService<IStartupValidator>() is { } validator)
        {
            // Throws what the start would. Options not validated on start are not in it: then the failure met here stands.
            validator.Validate();
            throw;
        }
    }
}
