namespace EmailGuard;

/// <summary>Names of list entries and flags inside state stores.</summary>
internal static class GuardStateKeys
{
    /// <summary>How long an expired list entry is kept so that listings with "include expired" can still show it.</summary>
    public static readonly TimeSpan ExpiredEntryRetention = TimeSpan.FromDays(7);

    /// <summary>The most flag events kept; older ones are dropped.</summary>
    public const int MaxFlagEvents = 10_000;

    public static string ListMember(EmailGuardPartyType partyType, string value) => $"{(int)partyType}:{value}";

    public static string FlagMember(EmailGuardPartyType partyType, string partyId, string reason) => $"{(int)partyType}:{reason.ToLowerInvariant()}:{partyId}";
}
