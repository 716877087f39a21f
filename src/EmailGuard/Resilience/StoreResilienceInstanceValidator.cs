using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks at startup that <see cref="StoreResilienceOptions.InstanceIndex"/> names one of the <see cref="StoreResilienceOptions.InstanceCount"/> instances.</summary>
internal sealed class StoreResilienceInstanceValidator : IValidateOptions<StoreResilienceOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreResilienceOptions options)
        => options.InstanceIndex is { } index && (index < 0 || index >= options.InstanceCount)
            ? ValidateOptionsResult.Fail(string.Create(CultureInfo.InvariantCulture,
                $"EmailGuard:Resilience:InstanceIndex is {index}; it must be at least 0 and below EmailGuard:Resilience:InstanceCount ({options.InstanceCount})."))
            : ValidateOptionsResult.Success;
}
