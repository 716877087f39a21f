namespace EmailGuard;

/// <summary>Everything a state store holds, as loaded at one version.</summary>
internal sealed record GuardStateData(long Version, IReadOnlyList<EmailGuardListEntry> Entries, IReadOnlyList<EmailGuardFlag> Flags);
