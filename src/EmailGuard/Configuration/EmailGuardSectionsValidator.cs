using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Fails startup when the <c>EmailGuard</c> section holds a section no registered component reads, such as
/// <c>EmailGuard:SendGaurd</c>. What is inside each known section is checked by the component that binds it.
/// </summary>
internal sealed class EmailGuardSectionsValidator(IEnumerable<EmailGuardConfigurationSection> sections, IServiceProvider services)
    : IValidateOptions<EmailGuardSectionsCheck>
{
    public ValidateOptionsResult Validate(string? name, EmailGuardSectionsCheck options)
    {
        if (services.GetService<IConfiguration>() is not { } configuration)
        {
            return ValidateOptionsResult.Success;
        }

        IConfigurationSection root = configuration.GetSection(EmailGuardServiceCollectionExtensions.ConfigurationSectionName);
        HashSet<string> known = new(sections.Select(s => s.Name), StringComparer.OrdinalIgnoreCase);
        known.UnionWith(EmailGuardConfigurationSections.ReadElsewhere);
        List<string> failures = [];
        if (!string.IsNullOrEmpty(root.Value))
        {
            failures.Add($"{root.Path}: '{root.Value}' is a single value, but this is a section of sections ({string.Join(", ", known)}).");
        }

        foreach (IConfigurationSection child in root.GetChildren())
        {
            if (!known.Contains(child.Key))
            {
                failures.Add($"{child.Path}: unknown section{StrictConfiguration.Suggest(child.Key, known.Order(StringComparer.Ordinal), root.Key)}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
