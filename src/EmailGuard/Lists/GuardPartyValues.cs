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
                    : throw new ArgumentException($"'{value}' is not a valid address: {error}", nameof(value));
            case EmailGuardPartyType.RecipientDomain:
                return EmailAddressNormalizer.TryNormalizeDomain(value, normalization, out string? domain)
                    ? domain
                    : throw new ArgumentException($"'{value}' is not a valid domain.", nameof(value));
            case EmailGuardPartyType.Tenant:
            case EmailGuardPartyType.User:
                return value;
            case EmailGuardPartyType.ClientNetwork:
                return IpAddressGrouping.NormalizeNetwork(value)
                    ?? throw new ArgumentException($"'{value}' is not an IP address or a CIDR network.", nameof(value));
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
            _ => storedValue,
        };
}
