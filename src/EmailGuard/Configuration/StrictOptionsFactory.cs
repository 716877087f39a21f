using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Creates options that <see cref="StrictConfiguration"/> binds, as the stock factory does, and fails them with every
/// mistake of their section in one <see cref="OptionsValidationException"/>: the settings the binding refused (an
/// unknown key, a value that does not convert), each with its full path, then the failures of the options' validators
/// that hold of what was configured. A failure that may only reflect a refused setting (the default a misspelt or
/// unconvertible limit left in its place) is left out; it would be reported, if it still holds, once the setting is
/// fixed (<see cref="StrictConfiguration.Result.Holds"/>). Registered for each options type bound strictly.
/// </summary>
internal sealed class StrictOptionsFactory<TOptions>(
    IEnumerable<IConfigureOptions<TOptions>> setups,
    IEnumerable<IPostConfigureOptions<TOptions>> postConfigures,
    IEnumerable<IValidateOptions<TOptions>> validations) : IOptionsFactory<TOptions>
    where TOptions : class
{
    private readonly OptionsFactory<TOptions> _unvalidated = new(setups, postConfigures);
    private readonly IValidateOptions<TOptions>[] _validations = [.. validations];

    public TOptions Create(string name)
    {
        TOptions options = _unvalidated.Create(name);
        StrictConfiguration.Result? binding = StrictConfiguration.TakeBindingFailures(options);
        List<string> failures = binding is null ? [] : [.. binding.Errors];
        foreach (IValidateOptions<TOptions> validation in _validations)
        {
            ValidateOptionsResult result = validation.Validate(name, options);
            if (result is { Failed: true })
            {
                IEnumerable<string> found = result.Failures ?? [result.FailureMessage];
                failures.AddRange(binding is null ? found : found.Where(binding.Holds));
            }
        }

        if (failures.Count != 0)
        {
            throw new OptionsValidationException(name, typeof(TOptions), failures);
        }

        return options;
    }
}
