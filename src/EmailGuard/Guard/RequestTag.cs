namespace EmailGuard;

/// <summary>Which dimension and party a request of an acquire stands for, so a denial can name them.</summary>
/// <param name="Dimension">The dimension the request counts.</param>
/// <param name="Partition">The dimension's value, e.g. the tenant id or the content fingerprint.</param>
/// <param name="Recipient">The recipient a recipient or domain request counts, else null.</param>
/// <param name="OwnCopiesOf">
/// <see cref="EmailGuardDimension.User"/> or <see cref="EmailGuardDimension.Tenant"/> for the counter of that party's
/// own copies of the content key just before it (it never denies, and a decision's public usage leaves it out); else
/// <see cref="EmailGuardDimension.None"/>.
/// </param>
internal readonly record struct RequestTag(EmailGuardDimension Dimension, string? Partition, string? Recipient, EmailGuardDimension OwnCopiesOf = EmailGuardDimension.None);
