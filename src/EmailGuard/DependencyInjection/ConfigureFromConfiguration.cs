using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Binds options from a configuration section when the app has configuration, and does nothing when it has none
/// (a plain <c>ServiceCollection</c> in a console app or a test). An unknown key or a value that does not convert,
/// also inside a list, is left out and fails the options, with the failures of their validators, in one
/// <see cref="OptionsValidationException"/> naming each setting (<see cref="StrictConfiguration"/>,
/// <see cref="StrictOptionsFactory{TOptions}"/>).
/// </summary>
internal sealed class ConfigureFromConfiguration<TOptions>(IConfiguration? configuration, string sectionPath) : IConfigureOptions<TOptions>
    where TOptions : class
{
    public void Configure(TOptions options)
    {
        if (configuration is not null)
        {
            StrictConfiguration.Bind(configuration.GetSection(sectionPath), options);
        }
    }
}
