namespace EmailGuard;

/// <summary>
/// The counter keys of the send guard. All start with <c>send:</c> so they never share a counter with endpoint
/// policies; addresses are hashed and ids encoded by <see cref="StoreKeyEncoding"/>, so raw addresses are not spread
/// across store keys.
/// </summary>
internal static class PartitionKeys
{
    public const string Global = "send:g";
    public const string TenantPrefix = "send:t:";
    public const string SenderPrefix = "send:s:";
    public const string RecipientPrefix = "send:r:";
    public const string DomainPrefix = "send:d:";
    public const string UserPrefix = "send:u:";
    public const string ClientIpPrefix = "send:ip:";
    public const string CategoryPrefix = "send:c:";
    public const string TenantPoolPrefix = "send:tp:";
    public const string ContentPrefix = "send:ct:";
    public const string NearDuplicatePrefix = "send:nd:";

    /// <summary>
    /// A party's own copies of a content key: <c>send:cp:</c>, the content partition (a fingerprint, or
    /// <c>nd&lt;band&gt;:&lt;hash&gt;</c>), <c>:</c> and the party's key without <c>send:</c> (<c>t:acme</c>,
    /// <c>u:h:&lt;hash&gt;</c>). The partition has a fixed form and comes first, so no two pairs share a key.
    /// </summary>
    public const string ContentOwnCopiesPrefix = "send:cp:";
    public const string BulkContentUserPrefix = "send:cb:u:";
    public const string BulkContentTenantPrefix = "send:cb:t:";
    public const string FanOutUserPrefix = "send:fo:u:";
    public const string FanOutTenantPrefix = "send:fo:t:";

    // Where a party key (send:t:..., send:u:...) goes on after "send:".
    private const int PartyKeyStart = 5;

    /// <summary>The key of a party's own copies of a content partition (<see cref="ContentOwnCopiesPrefix"/>), from the party's cached key.</summary>
    public static string ForOwnCopies(string partition, string partyKey)
        => string.Concat(ContentOwnCopiesPrefix, partition, ":", partyKey.AsSpan(PartyKeyStart));

    /// <summary>A key for an id: kept readable when short and plain (tenant <c>acme</c>), hashed otherwise (a user id that is an address).</summary>
    public static string ForId(string prefix, string id) => prefix + StoreKeyEncoding.EncodeId(id);
}
