using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Fails options with the settings <see cref="StrictConfiguration"/> refused while binding them, for a factory other
/// than <see cref="StrictOptionsFactory{TOptions}"/> (one the app registered itself): the binding leaves a refused setting
/// out rather than throw, so without this its failures would never be reported and a misspelt limit would quietly go
/// unset. <see cref="StrictOptionsFactory{TOptions}"/> takes the failures before it runs the validators, so this then
/// finds none.
/// </summary>
internal sealed class StrictBindingValidation<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
        => StrictConfiguration.TakeBindingFailures(options) is { } binding
            ? ValidateOptionsResult.Fail(binding.Errors)
            : ValidateOptionsResult.Skip;
}
