using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>Checks the ranges of <see cref="EmailGuardEndpointOptions"/> at startup, naming the setting by its full path.</summary>
internal sealed partial class EmailGuardEndpointOptionsValidator : IValidateOptions<EmailGuardEndpointOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, EmailGuardEndpointOptions options)
    {
        // The generated checks name the property alone (MaxBodyBytes: …); startup failures name the full path.
        ValidateOptionsResult result = _attributes.Validate(name, options);
        return result.Failed && result.Failures is { } failures
            ? ValidateOptionsResult.Fail(failures.Select(failure => $"{EmailGuardEndpointOptions.ConfigurationSectionName}:{failure}"))
            : result;
    }

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<EmailGuardEndpointOptions>;
}
