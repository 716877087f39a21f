
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
        Address = Domain = RecipientKey = SenderKey = DomainKey = string.Empty;
    }

    private GuardAddress(NormalizedEmailAddress normalized)
    {
        Address = normalized.Address;
        Domain = normalized.Domain;
        string hash = StoreKeyEncoding.Hash(Address);
        RecipientKey = PartitionKeys.RecipientPrefix + hash;
        SenderKey = PartitionKeys.SenderPrefix + hash;
        DomainKey = PartitionKeys.DomainPrefix + Domain;
    }

    public bool IsValid => Error is null;

    /// <summary>Why the address was refused, when it was.</summary>
    public string? Error { get; }

    /// <summary>The canonical address, <c>local@domain</c>.</summary>
    public string Address { get; }

    /// <summary>The canonical (IDNA ASCII) domain.</summary>
    public string Domain { get; }

    public string RecipientKey { get; }

    public string SenderKey { get; }

    public string DomainKey { get; }

    public static GuardAddress Create(string? raw, EmailAddressNormalizationOptions normalization)
        => EmailAddressNormalizer.TryNormalize(raw, normalization, out NormalizedEmailAddress normalized, out string? error)
            ? new GuardAddress(normalized)
            : new GuardAddress(error);
}
