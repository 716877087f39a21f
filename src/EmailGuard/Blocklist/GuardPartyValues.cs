namespace EmailGuard;

/// <summary>Puts list and flag values in the form the guard matches them in.</summary>
internal static class GuardPartyValues
{
    public static string Normalize(EmailGuardPartyType partyType, string value, bool stripPlusTags)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        switch (partyType)
        {
            case EmailGuardPartyType.Recipient:
            case EmailGuardPartyType.Sender:
                return EmailAddressNormalizer.TryNormalize(value, stripPlusTags, out NormalizedEmailAddress address, out string? error)
                    ? address.Address
                    : throw new ArgumentException($"'{value}' is not a valid address: {error}", nameof(value));
            case EmailGuardPartyType.Domain:
                return EmailAddressNormalizer.TryNormalizeDomain(value, out string? domain)
                    ? domain
                    : throw new ArgumentException($"'{value}' is not a valid domain.", nameof(value));
            case EmailGuardPartyType.Tenant:
            case EmailGuardPartyType.User:
                return value;
            default:
                throw new ArgumentOutOfRangeException(nameof(partyType), partyType, "Unknown party type.");
        }
    }
}
