using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Checks at startup that <see cref="StoreResilienceOptions.InstanceIndex"/> names one of the
/// <see cref="StoreResilienceOptions.InstanceCount"/> instances. The index has no range attribute: this is its only
/// check, so one wrong index is one failure.
/// </summary>
internal sealed class StoreResilienceInstanceValidator : IValidateOptions<StoreResilienceOptions>
{
    /// <summary>The largest <see cref="StoreResilienceOptions.InstanceCount"/> its range attribute allows.</summary>
    private const int MaxInstanceCount = 10_000;

    public ValidateOptionsResult Validate(string? name, StoreResilienceOptions options)
    {
        if (options.InstanceIndex is not { } index)
        {
            return ValidateOptionsResult.Success;
        }

        // A count out of its own range is reported by its attribute; the index is then judged against the largest count,
        // so that the one mistake in the count is not reported a second time as a mistake in the index.
        bool countValid = options.InstanceCount is >= 1 and <= MaxInstanceCount;
        int count = countValid ? options.InstanceCount : MaxInstanceCount;
        if (index >= 0 && index < count)
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail(countValid
            ? string.Create(CultureInfo.InvariantCulture,
                $"EmailGuard:Resilience:InstanceIndex must be between 0 and {count - 1}, one less than EmailGuard:Resilience:InstanceCount ({count}); it is {index}.")
            : string.Create(CultureInfo.InvariantCulture, $"EmailGuard:Resilience:InstanceIndex must be between 0 and {MaxInstanceCount - 1}; it is {index}."));
    }
}
