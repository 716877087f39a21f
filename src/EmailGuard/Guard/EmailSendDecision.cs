using System.Globalization;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// What the send guard decided for one message. A denial is a normal outcome, not an exception.
/// </summary>
/// <remarks>
/// An allowed decision carries what <see cref="IEmailSendGuard.RefundAsync"/> needs to give the permits back when the
/// provider refuses the message: the store's timestamp and the requests that were admitted.
/// </remarks>
public readonly struct EmailSendDecision
{
    private readonly GuardUsage _usage;
    private readonly RateLimitDecision _acquisition;
    private readonly EmailSendAttribution? _attribution;
    private readonly PendingAttribution _pendingAttribution;

    internal EmailSendDecision(
        EmailSendReason reason,
        EmailGuardDimension dimension,
        string? partition,
        string? recipient,
        string? invalidAddress,
        string? detail,
        TimeSpan retryAfter,
        DateTimeOffset timestamp,
        EmailSendRuleUsage[]? usage,
        RateLimitDecision acquisition = default,
        EmailSendAttribution? attribution = null)
        : this(reason, dimension, partition, recipient, invalidAddress, detail, retryAfter, timestamp, new GuardUsage(usage), acquisition, attribution, default)
    {
    }

    /// <summary>The guard's own: usage kept compact, and an attribution built when first read.</summary>
    /// <remarks>
    /// The structs come by reference: each copy of one with references is a local its caller zeroes on every call.
    /// Inlined: a caller that returns <c>new ValueTask&lt;EmailSendDecision&gt;(new EmailSendDecision(...))</c> then
    /// writes the fields straight into its return buffer. Called, the decision was built in a local, copied into the
    /// task's local and that copied into the return buffer, each copy a 264-byte move with write barriers.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal EmailSendDecision(
        EmailSendReason reason,
        EmailGuardDimension dimension,
        string? partition,
        string? recipient,
        string? invalidAddress,
        string? detail,
        TimeSpan retryAfter,
        DateTimeOffset timestamp,
        in GuardUsage usage,
        in RateLimitDecision acquisition,
        EmailSendAttribution? attribution,
        in PendingAttribution pendingAttribution)
    {
        _attribution = attribution;
        _pendingAttribution = pendingAttribution;
        Reason = reason;
        Dimension = dimension;
        Partition = partition;
        Recipient = recipient;
        InvalidAddress = invalidAddress;
        Detail = detail;
        RetryAfter = retryAfter;
        Timestamp = timestamp;
        _usage = usage;
        _acquisition = acquisition;
    }

    /// <summary>Gets why the message was allowed or denied.</summary>
    public EmailSendReason Reason { get; }

    /// <summary>Gets whether the message may be queued or sent.</summary>
    public bool IsAllowed => Reason is EmailSendReason.Allowed or EmailSendReason.AllowedUnguarded;

    /// <summary>
    /// Gets the first dimension that denied (for <see cref="EmailSendReason.LimitExceeded"/>), the dimension of the
    /// blocklisted or suspended party, or <see cref="EmailGuardDimension.None"/>.
    /// </summary>
    public EmailGuardDimension Dimension { get; }

    /// <summary>
    /// Gets the value of <see cref="Dimension"/> that denied, e.g. the tenant id or the recipient address. Under the
    /// tenant dimension a tenant pool's is <c>pool:&lt;name&gt;</c>, and a tenant id that would read as one (it begins
    /// with <c>pool:</c>, after any number of <c>tenant:</c>) is shown with <c>tenant:</c> before it.
    /// </summary>
    public string? Partition { get; }

    /// <summary>Gets the normalized recipient that denied, when the denying dimension was a recipient or its domain.</summary>
    public string? Recipient { get; }

    /// <summary>Gets the offending address as given, for <see cref="EmailSendReason.InvalidAddress"/>.</summary>
    public string? InvalidAddress { get; }

    /// <summary>Gets a human-readable explanation of a denial (why an address is invalid, the blocklist reason, the flag).</summary>
    public string? Detail { get; }

    /// <summary>
    /// Gets how long until the message would fit: the longest retry-after of the rules that denied.
    /// <see cref="TimeSpan.Zero"/> when allowed; <see cref="TimeSpan.MaxValue"/> when it never can (blocklisted,
    /// invalid, or a cost above the limit); for a suspension, until the flag expires.
    /// </summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>
    /// Gets who caused the message, with a <see cref="EmailSendAttribution.SendId"/> unique to this admission: what
    /// provider feedback about it is charged to. Set on every allowed <see cref="IEmailSendGuard.CheckAsync"/>; null for a
    /// peek or a denial. Write it as provider tags with <see cref="EmailFeedbackTags.Write"/>, and map the provider's
    /// message id to it with <see cref="IEmailGuardFeedback.TrackAsync"/> (the guarded senders do both).
    /// </summary>
    /// <remarks>
    /// Built when read, so a check whose attribution nobody reads allocates none. Every read builds an equal
    /// attribution (the same send id and parties), not the same instance: read it once and pass that on.
    /// </remarks>
    public EmailSendAttribution? Attribution => _attribution ?? _pendingAttribution.Build();

    /// <summary>
    /// Gets the store's clock when it decided, or for a reservation the reserved time; refunds use it to find the
    /// window the permits went into.
    /// </summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>
    /// Gets when the message may go out, on the store's clock: for an allowed <see cref="IEmailSendGuard.ReserveAsync"/>
    /// the reserved time (now or later), which the caller waits for before it sends; for any other allowed decision,
    /// now. <see langword="null"/> for a denial.
    /// </summary>
    /// <remarks>
    /// The Redis store reads the server's clock by default; an app whose clock is within a few milliseconds of it
    /// (NTP) can wait on its own <see cref="TimeProvider"/> until this time. Sending a little late is always safe;
    /// a rule is never exceeded by messages sent at or after their reserved times.
    /// </remarks>
    public DateTimeOffset? SendAt => IsAllowed ? Timestamp : null;

    /// <summary>
    /// Gets the usage of every rule of every dimension that was checked, in the order they were checked. Empty when
    /// the message was refused before any counter was read (invalid, blocklisted, suspended).
    /// </summary>
    /// <remarks>
    /// The decision keeps its usage compact and builds this span when read, so a check whose usage nobody reads
    /// allocates nothing for it; keep the span rather than reading the property in a loop.
    /// </remarks>
    public ReadOnlySpan<EmailSendRuleUsage> Usage => _usage.ToArray();

    /// <summary>
    /// Gets whether <see cref="IEmailSendGuard.RefundAsync"/> can give permits back for this decision: only an allowed
    /// <see cref="IEmailSendGuard.CheckAsync"/> that took permits; never a peek, a denial or an unguarded admission. A
    /// refundable decision is still refunded at most once, however often it was copied.
    /// </summary>
    public bool IsRefundable => Reason == EmailSendReason.Allowed && _usage.Length > 0 && _acquisition.IsRefundable;

    /// <summary>The usage as kept, read without building <see cref="Usage"/>.</summary>
    internal GuardUsage UsageValues => _usage;

    /// <summary>The store's decision that took the permits, which a refund names to the store that admitted it.</summary>
    internal RateLimitDecision Acquisition => _acquisition;

    /// <summary>The admitted message and the send counters its store call took, for a refund.</summary>
    internal PendingAttribution PendingAttribution => _pendingAttribution;

    /// <summary>
    /// Gets the smallest number of permits left under any rule of <paramref name="dimension"/>, or
    /// <see langword="null"/> when the dimension was not checked.
    /// </summary>
    /// <param name="dimension">One dimension.</param>
    /// <returns>The remaining permits.</returns>
    public long? GetRemaining(EmailGuardDimension dimension)
    {
        long? remaining = null;
        for (int i = 0; i < _usage.Length; i++)
        {
            if (_usage.GetDimension(i) == dimension && !_usage.IsOwnCopies(i))
            {
                long left = _usage.GetRemaining(i);
                remaining = remaining is { } r ? Math.Min(r, left) : left;
            }
        }

        return remaining;
    }

    /// <inheritdoc />
    public override string ToString() => IsAllowed
        ? $"{Reason}"
        : RetryAfter == TimeSpan.MaxValue
            ? $"{Reason} {Dimension} {Recipient ?? Partition ?? InvalidAddress}, never allowed"
            : string.Create(CultureInfo.InvariantCulture, $"{Reason} {Dimension} {Recipient ?? Partition ?? InvalidAddress}, retry after {RetryAfter:c}");
}
