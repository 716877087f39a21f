
namespace EmailGuard;

/// <summary>
/// An address as the guard uses it: validated and normalized once, with the counter keys derived from a hash of the
/// canonical form, so that raw addresses never reach the store's keys.
/// </summary>
internal sealed class GuardAddress
{
    private GuardAddress(string? error)
    {
        Error = error;
        Address = Domain = DomainPartition = RecipientKey = SenderKey = DomainKey = string.Empty;
    }

    private GuardAddress(NormalizedEmailAddress normalized)
    {
        Address = normalized.Address;
        Domain = normalized.Domain;
        string hash = StoreKeyEncoding.Hash(Address);
        RecipientKey = PartitionKeys.RecipientPrefix + hash;
        SenderKey = PartitionKeys.SenderPrefix + hash;
        DomainPartition = PublicSuffixList.Icann.GetRegistrableDomain(Domain);
        DomainKey = PartitionKeys.DomainPrefix + DomainPartition;
    }

    public bool IsValid => Error is null;

    /// <summary>Why the address was refused, when it was.</summary>
    public string? Error { get; }

    /// <summary>The canonical address, <c>local@domain</c>.</summary>
    public string Address { get; }

    /// <summary>The canonical (IDNA ASCII) domain, which the lists match (a listed domain and the domains under it).</summary>
    public string Domain { get; }

    /// <summary>
    /// The recipient-domain dimension's partition: the registrable domain of <see cref="Domain"/> by the Public Suffix
    /// List's ICANN section (<c>x1.victim.com</c> → <c>victim.com</c>), or the domain itself when it is a public suffix
    /// (<c>co.uk</c>). One wildcard MX answers for every name under a registrable domain, so a counter per subdomain
    /// would let a sender rotate names past the cap; <see cref="DomainKey"/> is its counter.
    /// </summary>
    public string DomainPartition { get; }

    public string RecipientKey { get; }

    public string SenderKey { get; }

    public string DomainKey { get; }

    public static GuardAddress Create(string? raw, EmailAddressNormalizationOptions normalization)
        => EmailAddressNormalizer.TryNormalize(raw, normalization, out NormalizedEmailAddress normalized, out string? error)
            ? new GuardAddress(normalized)
            : new GuardAddress(error);
}
