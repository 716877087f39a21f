namespace EmailGuard.Redis;

/// <summary>What one acquire script decided: its clock, the first denied request (-1 for none), the retry-after (-1: never).</summary>
/// <param name="NowMs">The time the script decided at, in Unix ms.</param>
/// <param name="DeniedIndex">The first denied request's index in the call, or -1.</param>
/// <param name="RetryMs">
/// The retry-after in ms, -1 for never; admitted, how far ahead of the decision <paramref name="NowMs"/> lies (a
/// reservation admitted ahead), else 0.
/// </param>
internal readonly record struct RedisScriptOutcome(long NowMs, int DeniedIndex, long RetryMs)
{
    /// <summary>Combines the outcomes of two slots of one cross-slot acquire, keeping this one's clock.</summary>
    public RedisScriptOutcome Merge(RedisScriptOutcome other) => new(
        NowMs,
        DeniedIndex < 0 ? other.DeniedIndex : other.DeniedIndex < 0 ? DeniedIndex : Math.Min(DeniedIndex, other.DeniedIndex),
        RetryMs < 0 || other.RetryMs < 0 ? -1 : Math.Max(RetryMs, other.RetryMs));

    /// <summary>The decision the caller gets.</summary>
    public RateLimitDecision ToDecision(long acquisitionId)
    {
        RateLimitDecision decision = new(
            DeniedIndex < 0 ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            DeniedIndex,
            DeniedIndex < 0 ? TimeSpan.Zero : RetryMs < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(RetryMs),
            DateTimeOffset.FromUnixTimeMilliseconds(NowMs),
            acquisitionId);
        return DecidedAtMs == NowMs ? decision : decision with { DecidedAt = DateTimeOffset.FromUnixTimeMilliseconds(DecidedAtMs) };
    }

    /// <summary>When the script decided: where window rules counted; earlier than <see cref="NowMs"/> only for a reservation admitted ahead.</summary>
    public long DecidedAtMs => DeniedIndex < 0 && RetryMs > 0 ? NowMs - RetryMs : NowMs;
}
