namespace EmailGuard;

/// <summary>Puts list and flag values in the form the guard matches them in.</summary>
internal static class GuardPartyValues
{
    public static string Normalize(EmailGuardPartyType partyType, string value, EmailAddressNormalizationOptions normalization)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        switch (partyType)
        {
            case EmailGuardPartyType.Recipient:
            case EmailGuardPartyType.Sender:
                return EmailAddressNormalizer.TryNormalize(value, normalization, out NormalizedEmailAddress address, out string? error)
                    ? address.Address
                    : throw new ArgumentException($"'{LogValue.Of(value)}' is not a valid address: {error}", nameof(value));
            case EmailGuardPartyType.RecipientDomain:
                return EmailAddressNormalizer.TryNormalizeDomain(value, normalization, out string? domain)
                    ? domain
                    : throw new ArgumentException($"'{LogValue.Of(value)}' is not a valid domain.", nameof(value));
            case EmailGuardPartyType.Tenant:
            case EmailGuardPartyType.User:
                return value;
            case EmailGuardPartyType.ClientNetwork:
                return IpAddressGrouping.NormalizeNetwork(value)
                    ?? throw new ArgumentException($"'{LogValue.Of(value)}' is not an IP address or a CIDR network.", nameof(value));
            case EmailGuardPartyType.CategoryRecipient:
                return TryNormalizeCategoryRecipient(value, normalization, out string? pair, out string? problem)
                    ? pair
                    : throw new ArgumentException($"'{LogValue.Of(value)}' is not a category and an address written 'category:address': {problem}", nameof(value));
            case EmailGuardPartyType.Category:
                throw new ArgumentOutOfRangeException(
                    nameof(partyType), partyType, "A category is flagged (IEmailGuardFlags), not listed; to block one address for one category, list a CategoryRecipient.");
            case EmailGuardPartyType.TenantPool:
                throw new ArgumentOutOfRangeException(
                    nameof(partyType), partyType, "A tenant pool is flagged (IEmailGuardFlags), not listed; to stop every tenant of a pool, flag the pool with a suspending reason.");
            default:
                throw new ArgumentOutOfRangeException(nameof(partyType), partyType, "Unknown party type.");
        }
    }

    /// <summary>
    /// The form a stored entry is matched in. Entries written in another form (by an older version, with other
    /// options, or straight into the state store) still match every equivalent spelling; a value that no longer
    /// normalizes is matched as stored.
    /// </summary>
    public static string MatchForm(EmailGuardPartyType partyType, string storedValue, EmailAddressNormalizationOptions normalization)
        => partyType switch
        {
            EmailGuardPartyType.Recipient or EmailGuardPartyType.Sender
                => EmailAddressNormalizer.TryNormalize(storedValue, normalization, out NormalizedEmailAddress address, out _) ? address.Address : storedValue,
            EmailGuardPartyType.RecipientDomain
                => EmailAddressNormalizer.TryNormalizeDomain(storedValue, normalization, out string? domain) ? domain : storedValue,
            EmailGuardPartyType.ClientNetwork => IpAddressGrouping.NormalizeNetwork(storedValue) ?? storedValue,
            EmailGuardPartyType.CategoryRecipient
                => TryNormalizeCategoryRecipient(storedValue, normalization, out string? pair, out _) ? pair : storedValue,
            _ => storedValue,
        };

    /// <summary>
    /// The value of a <see cref="EmailGuardPartyType.CategoryRecipient"/> party from a category and a normalized address:
    /// the category lower-cased and escaped (so that a <c>:</c> in it cannot move the split), a colon, the address.
    /// </summary>
    public static string CategoryRecipient(string category, string normalizedAddress)
        => Uri.EscapeDataString(category.ToLowerInvariant()) + ":" + normalizedAddress;

    private static bool TryNormalizeCategoryRecipient(
        string value, EmailAddressNormalizationOptions normalization, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? pair, out string? problem)
    {
        pair = null;
        int colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            problem = "no category before the first ':'";
            return false;
        }

        string category = Uri.UnescapeDataString(value[..colon]).Trim();
        if (category.Length == 0)
        {
            problem = "the category is empty";
            return false;
        }

        if (!EmailAddressNormalizer.TryNormalize(value[(colon + 1)..], normalization, out NormalizedEmailAddress address, out problem))
        {
            return false;
        }

        pair = CategoryRecipient(category, address.Address);
        return true;
    }
}
