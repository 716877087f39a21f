namespace EmailGuard;

/// <summary>
/// The usage of one rule of one dimension, as a check, a peek or a status query saw it.
/// </summary>
public readonly struct EmailSendRuleUsage
{
    internal EmailSendRuleUsage(EmailGuardDimension dimension, string? partition, RateLimitRequest request, RateLimitEntry entry)
    {
        Dimension = dimension;
        Partition = partition;
        Request = request;
        Entry = entry;
    }

    /// <summary>Gets the dimension.</summary>
    public EmailGuardDimension Dimension { get; }

    /// <summary>
    /// Gets the value the dimension was counted for: the tenant or user id, the normalized sender or recipient address,
    /// the recipient domain, the client IP partition or the category; <see langword="null"/> for the global scope.
    /// Under the tenant dimension a tenant pool's is <c>pool:&lt;name&gt;</c>, and a tenant id that would read as one (it
    /// begins with <c>pool:</c>, after any number of <c>tenant:</c>) is shown with <c>tenant:</c> before it.
    /// It lives only in this process; counter keys in the store carry a hash of addresses instead.
    /// </summary>
    public string? Partition { get; }

    /// <summary>Gets the rule, with the limit that applied (a tenant override or a flag's reduced limit).</summary>
    public RateLimitRule Rule => Request.Rule;

    /// <summary>Gets the permits this message asked for under the rule (0 for a status query).</summary>
    public long Cost => Request.Cost;

    /// <summary>Gets the permits counted in the window after the decision.</summary>
    public long Count => Entry.Count;

    /// <summary>Gets the limit that applied.</summary>
    public long Limit => Entry.Limit;

    /// <summary>Gets the permits still available, never negative.</summary>
    public long Remaining => Entry.Remaining;

    /// <summary>Gets whether this rule had room for the cost.</summary>
    public bool IsAllowed => Entry.IsAllowed;

    /// <summary>Gets how long until this rule has room for the cost.</summary>
    public TimeSpan RetryAfter => Entry.RetryAfter;

    /// <summary>Gets when the permits counted now will have left the window.</summary>
    public DateTimeOffset ResetAt => Entry.ResetAt;

    internal RateLimitRequest Request { get; }

    internal RateLimitEntry Entry { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Dimension} {Partition} {Rule}: {Count}/{Limit}";
}
