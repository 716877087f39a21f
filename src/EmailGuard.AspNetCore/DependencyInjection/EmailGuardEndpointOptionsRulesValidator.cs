using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Compiles policies, path rules and allowlists at startup, so that a bad pattern, a zero limit or a malformed CIDR
/// fails the app with a message naming the setting instead of surfacing on a request.
/// </summary>
internal sealed class EmailGuardEndpointOptionsRulesValidator : IValidateOptions<EmailGuardEndpointOptions>
{
    public ValidateOptionsResult Validate(string? name, EmailGuardEndpointOptions options)
    {
        List<string> failures = [.. EndpointGuardState.Validate(options)];
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
