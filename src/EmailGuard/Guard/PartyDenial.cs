namespace EmailGuard;

/// <summary>A party that the <see cref="PartyScreen"/> found blocklisted (<see cref="Block"/>) or suspended (<see cref="Suspension"/>).</summary>
/// <param name="Dimension">The dimension the party stands in.</param>
/// <param name="Partition">The party: an id, a normalized address or a domain.</param>
/// <param name="Recipient">The recipient the party belongs to, for a recipient or its domain.</param>
/// <param name="Block">The blocklist entry, when the party is blocklisted.</param>
/// <param name="Suspension">The suspending flag, when the party is suspended.</param>
internal readonly record struct PartyDenial(
    EmailGuardDimension Dimension, string? Partition, string? Recipient, EmailGuardListEntry? Block, EmailGuardFlag? Suspension);
