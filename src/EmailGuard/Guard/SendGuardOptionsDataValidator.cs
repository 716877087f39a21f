using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks the ranges of <see cref="SendGuardOptions"/>' scalar settings at startup, naming the setting.</summary>
[OptionsValidator]
internal sealed partial class SendGuardOptionsDataValidator : IValidateOptions<SendGuardOptions>;
