namespace EmailGuard;

/// <summary>Which dimension and party a request of an acquire stands for, so a denial can name them.</summary>
internal readonly record struct RequestTag(EmailGuardDimension Dimension, string? Partition, string? Recipient);
