namespace EmailGuard;

/// <summary>
/// What providers reported, within the rolling <see cref="EmailFeedbackOptions.CountWindow"/>, about the mail one party
/// caused: a tenant, a user, a sender, a category, a client network, or all mail (<see cref="EmailGuardDimension.Global"/>).
/// </summary>
public sealed class EmailFeedbackCounts
{
    /// <summary>Gets the kind of party.</summary>
    public required EmailGuardDimension Dimension { get; init; }

    /// <summary>
    /// Gets the party: a tenant or user id, a normalized sender, a lower-case category, a client network in CIDR
    /// notation; <see langword="null"/> for <see cref="EmailGuardDimension.Global"/>.
    /// </summary>
    public string? Partition { get; init; }

    /// <summary>Gets the deliveries reported.</summary>
    public long Delivered { get; init; }

    /// <summary>Gets the permanent (hard) bounces reported: what providers count against the account.</summary>
    public long Bounces { get; init; }

    /// <summary>Gets the transient and undetermined bounces reported.</summary>
    public long TransientBounces { get; init; }

    /// <summary>Gets the complaints reported.</summary>
    public long Complaints { get; init; }

    /// <summary>Gets the unsubscribes reported.</summary>
    public long Unsubscribes { get; init; }

    /// <summary>Gets the rolling window the counts cover.</summary>
    public required TimeSpan Window { get; init; }

    /// <summary>Gets the store's clock when it read the counts.</summary>
    public required DateTimeOffset Timestamp { get; init; }
}
