using EmailGuard;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Adds the Identity sender's confirmation category to the categories the account-wide breaker tightens, while that
/// list is still its default (<see cref="EmailRatioBreakerOptions.DefaultRiskyCategory"/>): confirmation mails are the sign-up confirmations the default means, filed
/// under <see cref="IdentityEmailGuardOptions{TUser}.ConfirmationCategory"/>, so a bot that bounces them would otherwise
/// push the account toward the provider's line at the category's full rate. A list set in configuration or in code is
/// left as it is, so <c>[]</c> still turns the breaker off.
/// </summary>
/// <typeparam name="TUser">The Identity user type.</typeparam>
internal sealed class IdentityRiskyCategory<TUser>(IdentityEmailGuardOptions<TUser> identity, IConfiguration? configuration) : IConfigureOptions<EmailRatioBreakerOptions>
    where TUser : class
{
    private const string RiskyCategoriesPath = EmailRatioBreakerOptions.ConfigurationSectionName + ":" + nameof(EmailRatioBreakerOptions.RiskyCategories);

    public void Configure(EmailRatioBreakerOptions options)
    {
        string category = identity.ConfirmationCategory;
        if (string.IsNullOrWhiteSpace(category)
            || configuration?.GetSection(RiskyCategoriesPath).Exists() == true
            || options.RiskyCategories is not [EmailRatioBreakerOptions.DefaultRiskyCategory]
            || string.Equals(category, EmailRatioBreakerOptions.DefaultRiskyCategory, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        options.RiskyCategories.Add(category);
    }
}
