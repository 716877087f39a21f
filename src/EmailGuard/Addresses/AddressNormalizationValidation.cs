using System.Globalization;

namespace EmailGuard;

/// <summary>Checks <see cref="EmailAddressNormalizationOptions"/> at startup, naming each bad setting by its full path.</summary>
internal static class AddressNormalizationValidation
{
    /// <summary>Separators must be characters a local part may hold, and not the dot, which other rules give meaning.</summary>
    private const string AllowedSeparators = "!#$%&'*+-/=?^_`{|}~";

    private static readonly System.Buffers.SearchValues<char> s_allowedSeparators = System.Buffers.SearchValues.Create(AllowedSeparators);

    /// <summary>A provider may ignore the dot too (Gmail, Proton).</summary>
    private static readonly System.Buffers.SearchValues<char> s_allowedIgnored = System.Buffers.SearchValues.Create("." + AllowedSeparators);

    public static void Check(List<string> failures, string path, EmailAddressNormalizationOptions? options)
    {
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (options.Providers is null)
        {
            failures.Add($"{path}:Providers must not be null.");
            return;
        }

        for (int i = 0; i < options.Providers.Count; i++)
        {
            // Configuration appends to the built-in rules: a rule from configuration is named by its key there, another
            // (built in, or added in code) by its index in the table; the name tells which rule it is.
            EmailProviderRule? rule = options.Providers[i];
            string rulePath = $"{path}:Providers:{StrictConfiguration.ItemKey(options.Providers, i)}";
            if (rule is null)
            {
                failures.Add($"{rulePath} is empty.");
                continue;
            }

            if (!string.IsNullOrEmpty(rule.Name))
            {
                rulePath += $" ('{rule.Name}')";
            }

            if (rule.Domains is null || rule.Domains.Count == 0)
            {
                failures.Add($"{rulePath}:Domains must list at least one domain.");
            }
            else
            {
                for (int d = 0; d < rule.Domains.Count; d++)
                {
                    if (!EmailAddressNormalizer.TryNormalizeDomain(rule.Domains[d], out _))
                    {
                        failures.Add(string.Create(CultureInfo.InvariantCulture, $"{rulePath}:Domains:{StrictConfiguration.ItemKey(rule.Domains, d)} ('{rule.Domains[d]}') is not a valid domain name."));
                    }
                }
            }

            if (rule.CanonicalDomain is not null && !EmailAddressNormalizer.TryNormalizeDomain(rule.CanonicalDomain, out _))
            {
                failures.Add($"{rulePath}:CanonicalDomain ('{rule.CanonicalDomain}') is not a valid domain name.");
            }

            if (rule.SubaddressSeparators is null || rule.SubaddressSeparators.AsSpan().IndexOfAnyExcept(s_allowedSeparators) >= 0)
            {
                failures.Add($"{rulePath}:SubaddressSeparators ('{rule.SubaddressSeparators}') may only hold the characters {AllowedSeparators}.");
            }

            if (rule.IgnoredCharacters is null || rule.IgnoredCharacters.AsSpan().IndexOfAnyExcept(s_allowedIgnored) >= 0)
            {
                failures.Add($"{rulePath}:IgnoredCharacters ('{rule.IgnoredCharacters}') may only hold the characters .{AllowedSeparators}.");
            }
        }
    }
}
