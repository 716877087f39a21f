namespace EmailGuard;

/// <summary>
/// The result of an atomic acquire or peek: admitted as a whole or not at all. Per-entry detail is written to the
/// results buffer passed to the store.
/// </summary>
/// <remarks>
/// <para>
/// The <see langword="default"/> value has <see cref="RateLimitStatus.None"/>: it denies, and it is not refundable.
/// </para>
/// <para>
/// Equality compares the outcome (status, denied index, retry-after, timestamp), not <see cref="AcquisitionId"/>, so
/// that two stores that decide alike compare equal although each names its acquisitions its own way.
/// </para>
/// </remarks>
public readonly record struct RateLimitDecision
{
    // DecidedAt is kept as its parts, its offset beside the flags (see _decidedAtOffsetMinutes): a DateTimeOffset field
    // pads to 16 bytes and the flags to 8 more, which made this 64 bytes and the send guard's decision, which holds one,
    // 264: over the 256 bytes the JIT copies inline, so every copy of that decision called the runtime's bulk copy.
    private readonly long _decidedAtTicks;

    /// <summary>Initializes a decision that cannot be refunded: a peek, a denial, or a store without refunds.</summary>
    /// <param name="status">The outcome.</param>
    /// <param name="deniedIndex">The index of the first request that did not fit, or -1.</param>
    /// <param name="retryAfter">How long until every request would fit.</param>
    /// <param name="timestamp">The store's clock when it decided.</param>
    public RateLimitDecision(RateLimitStatus status, int deniedIndex, TimeSpan retryAfter, DateTimeOffset timestamp)
        : this(status, deniedIndex, retryAfter, timestamp, 0)
    {
    }

    /// <summary>Initializes a decision.</summary>
    /// <param name="status">The outcome.</param>
    /// <param name="deniedIndex">The index of the first request that did not fit, or -1.</param>
    /// <param name="retryAfter">How long until every request would fit.</param>
    /// <param name="timestamp">The store's clock when it decided.</param>
    /// <param name="acquisitionId">
    /// For an admitted acquire, a number the store that admitted it will not give to another acquire while the
    /// permits count; 0 for anything that cannot be refunded. See <see cref="AcquisitionId"/>.
    /// </param>
    public RateLimitDecision(RateLimitStatus status, int deniedIndex, TimeSpan retryAfter, DateTimeOffset timestamp, long acquisitionId)
    {
        Status = status;
        DeniedIndex = deniedIndex;
        RetryAfter = retryAfter;
        Timestamp = timestamp;
        AcquisitionId = status == RateLimitStatus.Allowed ? acquisitionId : 0;
    }

    /// <summary>Gets the outcome.</summary>
    public RateLimitStatus Status { get; }

    /// <summary>Gets whether the caller may proceed (<see cref="RateLimitStatus.Allowed"/> or <see cref="RateLimitStatus.AllowedUnguarded"/>).</summary>
    public bool IsAllowed => Status is RateLimitStatus.Allowed or RateLimitStatus.AllowedUnguarded;

    /// <summary>Gets the index of the first request that did not fit, or -1 when none was denied by a limit.</summary>
    public int DeniedIndex { get; }

    /// <summary>
    /// Gets how long until every request would fit: the longest retry-after of the denied entries.
    /// <see cref="TimeSpan.Zero"/> when allowed; <see cref="TimeSpan.MaxValue"/> when a cost can never fit.
    /// </summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>
    /// Gets the time the decision is for: the store's clock when it decided, or, for a reservation admitted ahead
    /// (<see cref="IRateLimitStore.ReserveAsync"/>), the reserved time. Refunds use it to find the time a token
    /// bucket's permits were taken for.
    /// </summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>
    /// Gets the store's clock when it decided: the same as <see cref="Timestamp"/>, except for a reservation admitted
    /// ahead, whose <see cref="Timestamp"/> is the later reserved time. Fixed and sliding windows count a reservation's
    /// permits in the window or segment of this time, and refunds give them back there.
    /// </summary>
    /// <value>The default value is <see cref="Timestamp"/>; a store sets it only on a reservation admitted ahead.</value>
    public DateTimeOffset DecidedAt
    {
        // Unset is the instant of default (UTC ticks 0), as a DateTimeOffset field compared with default tells it.
        get => _decidedAtTicks - (_decidedAtOffsetMinutes * TimeSpan.TicksPerMinute) == 0
            ? Timestamp
            : new DateTimeOffset(_decidedAtTicks, TimeSpan.FromTicks(_decidedAtOffsetMinutes * TimeSpan.TicksPerMinute));
        init
        {
            // An offset is whole minutes within ±14 hours (DateTimeOffset enforces both), so it fits a short exactly.
            _decidedAtTicks = value.Ticks;
            _decidedAtOffsetMinutes = (short)(value.Offset.Ticks / TimeSpan.TicksPerMinute);
        }
    }

    /// <summary>
    /// Gets the identity of an admitted acquire, which <see cref="IRateLimitStore.RefundAsync"/> records so that the
    /// acquire is refunded at most once however often the decision (a value) was copied; 0 for a peek, a denial, an
    /// unguarded admission, or a store that does not refund.
    /// </summary>
    public long AcquisitionId { get; }

    /// <summary>Gets whether <see cref="IRateLimitStore.RefundAsync"/> can give this decision's permits back.</summary>
    public bool IsRefundable => Status == RateLimitStatus.Allowed && AcquisitionId != 0;

    /// <summary>
    /// Gets whether the store answered from what it holds in this process, without asking its server: the Redis store
    /// denies a counter its over-limit cache knows to be full that way. Such an answer says nothing about whether the
    /// server is reachable, so the resilience wrapper's circuit breaker counts it neither as a success nor as a failure.
    /// A store with a local cache of its own sets it on the answers that cache gives.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the store's server decided.</value>
    public bool AnsweredFromCache { get; init; }

    /// <summary>Set by the resilience wrapper on a decision its local fallback made, so a refund goes back there.</summary>
    internal bool AdmittedLocally { get; init; }

    /// <summary>The offset of <see cref="DecidedAt"/> in minutes; declared after the flags so that it packs with them.</summary>
    private readonly short _decidedAtOffsetMinutes;

    /// <inheritdoc />
    public bool Equals(RateLimitDecision other)
        => Status == other.Status && DeniedIndex == other.DeniedIndex && RetryAfter == other.RetryAfter && Timestamp == other.Timestamp;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Status, DeniedIndex, RetryAfter, Timestamp);
}
