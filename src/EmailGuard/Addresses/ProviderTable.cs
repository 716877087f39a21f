using System.Collections.Frozen;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// <see cref="EmailAddressNormalizationOptions.Providers"/> compiled into one lookup by canonical (IDNA ASCII) domain,
/// once per options instance.
/// </summary>
internal sealed class ProviderTable
{
    private static readonly ConditionalWeakTable<EmailAddressNormalizationOptions, ProviderTable> s_compiled = [];

    private readonly FrozenDictionary<string, Entry> _byDomain;

    private ProviderTable(FrozenDictionary<string, Entry> byDomain) => _byDomain = byDomain;

    public static ProviderTable For(EmailAddressNormalizationOptions options)
        => s_compiled.GetValue(options, static o => Compile(o.Providers));

    /// <summary>Folds a canonical local part and domain by the provider's rules and, when asked, the generic plus-tag rule.</summary>
    public (string Local, string Domain) Fold(string local, string domain, EmailAddressNormalizationOptions options, bool stripPlusTags)
    {
        if (options.FoldProviderAliases)
        {
            if (!_byDomain.TryGetValue(domain, out Entry? entry))
            {
                // Subdomain addressing: anything@user.fastmail.com is user@fastmail.com.
                int dot = domain.IndexOf('.', StringComparison.Ordinal);
                if (dot > 0 && _byDomain.TryGetValue(domain[(dot + 1)..], out Entry? parent) && parent.SubdomainAddressing)
                {
                    local = domain[..dot];
                    domain = domain[(dot + 1)..];
                    entry = parent;
                }
            }

            if (entry is not null)
            {
                local = Remove(Cut(local, entry.Separators), entry.Ignored);
                if (entry.SubdomainAddressing)
                {
                    // A host name cannot hold '_', so Fastmail takes anything@joe-citizen.fastmail.com for
                    // joe_citizen@fastmail.com (fastmail.com/blog/two-address-resolving-additions): both spellings share
                    // a key, at the cost of merging joe-citizen and joe_citizen, which is stricter, never looser.
                    local = local.Replace('_', '-');
                }

                domain = entry.CanonicalDomain ?? domain;
            }
        }

        if (stripPlusTags)
        {
            local = Cut(local, "+");
        }

        return (local, domain);
    }

    /// <summary>The domain an alias domain folds to (<c>googlemail.com</c> to <c>gmail.com</c>), or the domain itself.</summary>
    public string FoldDomain(string domain, EmailAddressNormalizationOptions options)
        => options.FoldProviderAliases && _byDomain.TryGetValue(domain, out Entry? entry) && entry.CanonicalDomain is { } canonical ? canonical : domain;

    private static string Cut(string local, string separators)
    {
        int index = local.AsSpan().IndexOfAny(separators);
        return index > 0 ? local[..index] : local;
    }

    /// <summary>The local part without the characters the provider ignores; kept as it is when nothing else would remain.</summary>
    private static string Remove(string local, string ignored)
    {
        if (ignored.Length == 0 || local.AsSpan().IndexOfAny(ignored) < 0)
        {
            return local;
        }

        System.Text.StringBuilder kept = new(local.Length);
        foreach (char c in local)
        {
            if (!ignored.Contains(c, StringComparison.Ordinal))
            {
                kept.Append(c);
            }
        }

        return kept.Length > 0 ? kept.ToString() : local;
    }

    private static ProviderTable Compile(IList<EmailProviderRule>? rules)
    {
        Dictionary<string, Entry> byDomain = new(StringComparer.Ordinal);
        foreach (EmailProviderRule? rule in rules ?? [])
        {
            if (rule?.Domains is null)
            {
                continue;
            }

            // Invalid rules are refused at startup by the options validator; here they are skipped, never thrown on.
            string? canonical = null;
            if (rule.CanonicalDomain is not null && !EmailAddressNormalizer.TryNormalizeDomain(rule.CanonicalDomain, out canonical))
            {
                continue;
            }

            string ignored = (rule.IgnoreDots ? "." : string.Empty) + (rule.IgnoredCharacters ?? string.Empty);
            Entry entry = new(canonical, ignored, rule.SubaddressSeparators ?? string.Empty, rule.SubdomainAddressing);
            foreach (string domain in rule.Domains)
            {
                if (EmailAddressNormalizer.TryNormalizeDomain(domain, out string? normalized))
                {
                    byDomain[normalized] = entry;
                }
            }
        }

        return new ProviderTable(byDomain.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private sealed record Entry(string? CanonicalDomain, string Ignored, string Separators, bool SubdomainAddressing);
}
