using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace EmailGuard.Dashboard;

/// <summary>
/// The registrable domain each recipient domain is listed under, remembered: finding it normalizes the domain (UTS #46
/// and IDNA) and reads the Public Suffix List, some 2 µs and 224 bytes a domain, which the dashboard would otherwise
/// pay for every recipient of every check, inside its activity lock. A domain as written (in any case) is looked up
/// without allocating. At most <see cref="Capacity"/> are kept and the whole set is dropped when it is full, so a
/// rotation over fresh domains costs what it cost before, and never memory. With the guard's address normalization
/// (<see cref="FoldAs"/>), a provider's alias domain is listed under the domain the guard counts it as
/// (<c>googlemail.com</c> under <c>gmail.com</c>), so the row is the guard's <c>RecipientDomain</c> partition.
/// </summary>
internal sealed class RecipientDomainNames
{
    public const int Capacity = 4_096;

    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private volatile EmailAddressNormalizationOptions? _normalization;

    public RecipientDomainNames() => _lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// Folds provider alias domains as <paramref name="normalization"/> does (the guard's
    /// <see cref="SendGuardOptions.AddressNormalization"/>); the names found before are forgotten.
    /// </summary>
    public void FoldAs(EmailAddressNormalizationOptions normalization)
    {
        _normalization = normalization;
        _names.Clear();
    }

    /// <summary>How many domains are remembered (for tests).</summary>
    internal int Count => _names.Count;

    /// <summary>
    /// The name <paramref name="written"/> (the part of an address after its <c>@</c>) is listed under: its registrable
    /// domain, or the domain in lower case when it is not a valid one.
    /// </summary>
    public string Get(ReadOnlySpan<char> written)
        => _lookup.TryGetValue(written, out string? name) ? name : Add(written.ToString());

    [MethodImpl(MethodImplOptions.NoInlining)]
    private string Add(string written)
    {
        string name = Registrable(written, _normalization) ?? written.ToLowerInvariant();
        if (_names.Count >= Capacity)
        {
            _names.Clear();
        }

        _names[written] = name;
        return name;
    }

    private static string? Registrable(string written, EmailAddressNormalizationOptions? normalization)
    {
        if (normalization is null)
        {
            return EmailAddressNormalizer.TryGetRegistrableDomain(written, out string? registrable) ? registrable : null;
        }

        return EmailAddressNormalizer.TryNormalizeDomain(written, normalization, out string? folded)
            && EmailAddressNormalizer.TryGetRegistrableDomain(folded, out string? foldedRegistrable) ? foldedRegistrable : null;
    }

    /// <summary>
    /// The distinct names of a message's recipient domains, at most <see cref="RecentActivity.MaxDomainsPerMessage"/>,
    /// in the order of the recipients. Found before the activity lock is taken.
    /// </summary>
    public void Collect(OutboundEmail message, ref DomainList into)
    {
        for (int i = 0; i < message.RecipientCount && into.Count < RecentActivity.MaxDomainsPerMessage; i++)
        {
            string? recipient = message.GetRecipient(i);
            int at = recipient?.LastIndexOf('@') ?? -1;
            if (at < 0 || at == recipient!.Length - 1)
            {
                continue;
            }

            into.AddDistinct(Get(recipient.AsSpan(at + 1).Trim().TrimEnd('>')));
        }
    }

    /// <summary>A message's distinct recipient domain names, on the stack.</summary>
    internal struct DomainList
    {
        private Names _names;

        public int Count { get; private set; }

        public readonly string this[int index] => _names[index];

        public void AddDistinct(string name)
        {
            for (int i = 0; i < Count; i++)
            {
                if (string.Equals(_names[i], name, StringComparison.Ordinal))
                {
                    return;
                }
            }

            _names[Count++] = name;
        }

        [InlineArray(RecentActivity.MaxDomainsPerMessage)]
        private struct Names
        {
            private string _first;
        }
    }
}
