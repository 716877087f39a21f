using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Makes <c>EmailGuard:RatioBreakers:RiskyCategories</c> in configuration replace the default list instead of adding to
/// it: the binder appends list items to a list that already holds the default, so <c>["invite"]</c> would have left
/// <c>signup</c> tightened too. Runs just before the section is bound; an empty list (<c>[]</c>) turns the account-wide
/// breaker off.
/// </summary>
internal sealed class RiskyCategoriesFromConfiguration(IConfiguration? configuration) : IConfigureOptions<EmailRatioBreakerOptions>
{
    public const string Path = EmailRatioBreakerOptions.ConfigurationSectionName + ":" + nameof(EmailRatioBreakerOptions.RiskyCategories);

    public void Configure(EmailRatioBreakerOptions options)
    {
        if (configuration?.GetSection(Path).Exists() == true)
        {
            options.RiskyCategories.Clear();
        }
    }
}
