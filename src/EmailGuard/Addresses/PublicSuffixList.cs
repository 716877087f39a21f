using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// The rules of the Public Suffix List, and the registrable domain (eTLD+1) they give a domain: what the
/// recipient-domain cap counts, so <c>x1.victim.com</c> and <c>x2.victim.com</c> (one wildcard MX, one receiver) share
/// <c>victim.com</c>'s counter.
/// </summary>
/// <remarks>
/// <para>
/// The algorithm of https://publicsuffix.org/list/: a domain matches a rule when its rightmost labels are the rule's
/// (<c>*</c> standing for any one label); an exception rule (<c>!</c>) that matches wins, and its public suffix is the
/// rule without its leftmost label; else the rule with the most labels wins; else the implicit rule <c>*</c> (the last
/// label). The registrable domain is the public suffix and one label more; a domain that is itself a public suffix
/// (<c>co.uk</c>) has none, and is then its own partition.
/// </para>
/// <para>
/// <see cref="Icann"/> holds the list's ICANN section only, embedded (<c>PublicSuffixList.icann.dat</c>, written by
/// <c>eng/generate-public-suffix-list.py</c>). The private section names suffixes whose names anyone gets for free
/// (<c>duckdns.org</c>, <c>blogspot.com</c>): counted per name, each would be a fresh bucket for an attacker.
/// </para>
/// <para>
/// Domains here are canonical IDNA ASCII, lower case, without a trailing dot (<see cref="EmailAddressNormalizer"/>);
/// the list's Unicode rules are converted to ASCII as they load. A lookup reads spans of the domain against a frozen
/// set, so it allocates nothing; only the registrable domain's string, when it is shorter than the domain, is new.
/// </para>
/// </remarks>
internal sealed class PublicSuffixList
{
    /// <summary>The embedded resource's name (<c>LogicalName</c> in the project).</summary>
    internal const string IcannResourceName = "EmailGuard.PublicSuffixList.icann.dat";

    private static readonly Lazy<PublicSuffixList> s_icann = new(LoadIcann, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly FrozenDictionary<string, RuleKinds>.AlternateLookup<ReadOnlySpan<char>> _rules;

    private PublicSuffixList(FrozenDictionary<string, RuleKinds> rules)
    {
        RuleCount = rules.Count;
        _rules = rules.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    [Flags]
    private enum RuleKinds : byte
    {
        None = 0,

        /// <summary>The suffix is a rule itself (<c>co.uk</c>).</summary>
        Normal = 1,

        /// <summary><c>*.</c> and the suffix is a rule (<c>*.ck</c> stored under <c>ck</c>).</summary>
        Wildcard = 2,

        /// <summary><c>!</c> and the suffix is a rule (<c>!www.ck</c> stored under <c>www.ck</c>).</summary>
        Exception = 4,
    }

    /// <summary>The ICANN section of the embedded list, loaded on first use, once.</summary>
    public static PublicSuffixList Icann => s_icann.Value;

    /// <summary>How many suffixes carry a rule (a suffix with a normal and a wildcard rule counts once).</summary>
    public int RuleCount { get; }

    /// <summary>Reads rules in the list's format: one a line, up to the first white space; <c>//</c> comments and blank lines skipped.</summary>
    /// <remarks>A rule that does not convert to IDNA ASCII is left out: no canonical domain could match it.</remarks>
    public static PublicSuffixList Parse(TextReader reader)
    {
        IdnMapping idn = new() { AllowUnassigned = true };
        Dictionary<string, RuleKinds> rules = new(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            ReadOnlySpan<char> rule = line.AsSpan().Trim();
            int space = rule.IndexOfAny(' ', '\t');
            if (space >= 0)
            {
                rule = rule[..space];
            }

            if (rule.IsEmpty || rule.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            RuleKinds kind = RuleKinds.Normal;
            if (rule[0] == '!')
            {
                kind = RuleKinds.Exception;
                rule = rule[1..];
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                kind = RuleKinds.Wildcard;
                rule = rule[2..];
            }

            if (ToAscii(idn, rule) is { } suffix)
            {
                rules[suffix] = rules.GetValueOrDefault(suffix) | kind;
            }
        }

        return new PublicSuffixList(rules.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>
    /// The registrable domain of a canonical domain: the domain itself when it is one, or is a public suffix, else its
    /// tail (<c>a.foo.co.uk</c> → <c>foo.co.uk</c>).
    /// </summary>
    public string GetRegistrableDomain(string domain)
    {
        int start = GetRegistrableDomainStart(domain);
        return start == 0 ? domain : domain[start..];
    }

    /// <summary>Where the registrable domain starts in <paramref name="domain"/>: 0 for the whole domain.</summary>
    public int GetRegistrableDomainStart(ReadOnlySpan<char> domain)
    {
        if (domain.IsEmpty)
        {
            return 0;
        }

        // The suffixes from the last label on: `start` is where the one of `labels` labels begins. The public suffix
        // is counted in labels; the implicit rule "*" gives one.
        int suffixLabels = 1;
        int labels = 0;
        int start = domain.Length;
        while (start > 0)
        {
            start = domain[..(start - 1)].LastIndexOf('.') + 1;
            labels++;
            RuleKinds kinds = _rules.TryGetValue(domain[start..], out RuleKinds found) ? found : RuleKinds.None;
            if ((kinds & RuleKinds.Exception) != 0 && labels > 1)
            {
                // An exception rule wins over every other; its public suffix is the rule less its leftmost label, so the
                // registrable domain is the rule's own suffix.
                return start;
            }

            if ((kinds & RuleKinds.Normal) != 0)
            {
                suffixLabels = Math.Max(suffixLabels, labels);
            }

            if ((kinds & RuleKinds.Wildcard) != 0 && start > 0)
            {
                // "*.suffix" matches the suffix with the one label before it, which the domain has.
                suffixLabels = Math.Max(suffixLabels, labels + 1);
            }
        }

        // The public suffix and one label more; a domain that is a public suffix is its own partition.
        return labels <= suffixLabels ? 0 : StartOfLastLabels(domain, suffixLabels + 1);
    }

    private static int StartOfLastLabels(ReadOnlySpan<char> domain, int count)
    {
        int start = domain.Length;
        for (int i = 0; i < count && start > 0; i++)
        {
            start = domain[..(start - 1)].LastIndexOf('.') + 1;
        }

        return start;
    }

    private static string? ToAscii(IdnMapping idn, ReadOnlySpan<char> rule)
    {
        if (Ascii.IsValid(rule))
        {
            return rule.ToString().ToLowerInvariant();
        }

        try
        {
            return idn.GetAscii(rule.ToString()).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static PublicSuffixList LoadIcann()
    {
        using Stream stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(IcannResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {IcannResourceName} is missing from the EmailGuard assembly.");
        using StreamReader reader = new(stream, Encoding.UTF8);
        return Parse(reader);
    }
}
