namespace EmailGuard.AspNetCore;

/// <summary>How the middleware turns partition values into store-safe key parts, through the core's one encoding module.</summary>
internal static class EndpointKeyHashing
{
    /// <summary>
    /// The normalized address, hashed, so raw addresses never end up in store keys. A value that is not a valid address
    /// is folded as far as it goes, so its look-alike spellings share a key too.
    /// </summary>
    public static string HashAddress(string value, EmailAddressNormalizationOptions normalization)
        => StoreKeyEncoding.Hash(EmailAddressNormalizer.GetPartitionValue(value, normalization));

    /// <summary>Short printable values stay readable in the store; anything long or odd is hashed.</summary>
    public static string EncodeValue(string value) => StoreKeyEncoding.EncodeValue(value);

    public static string Hash(string value) => StoreKeyEncoding.Hash(value);
}
