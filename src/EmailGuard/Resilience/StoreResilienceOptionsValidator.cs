using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="StoreResilienceOptions"/> at startup, naming the setting that is out of range.</summary>
[OptionsValidator]
internal sealed partial class StoreResilienceOptionsValidator : IValidateOptions<StoreResilienceOptions>;
