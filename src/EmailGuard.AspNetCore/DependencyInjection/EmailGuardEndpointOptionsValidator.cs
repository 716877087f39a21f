using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>Checks the ranges of <see cref="EmailGuardEndpointOptions"/> at startup, naming the setting.</summary>
[OptionsValidator]
internal sealed partial class EmailGuardEndpointOptionsValidator : IValidateOptions<EmailGuardEndpointOptions>;
