namespace EmailGuard;

/// <summary>
/// One permit request inside an atomic acquire: <see cref="Cost"/> permits of <see cref="Rule"/> on the counter named
/// <see cref="Key"/>.
/// </summary>
/// <param name="Key">
/// The partition, e.g. <c>tenant:acme</c>. Non-empty, at most <see cref="MaxKeyLength"/> characters. Stores hash it
/// into their own key schema; callers should pass hashes rather than personal data (the send guard does).
/// </param>
/// <param name="Rule">The rule that applies to the partition.</param>
/// <param name="Cost">The permits to take: at least 1 for an acquire, at least 0 for a peek.</param>
public readonly record struct RateLimitRequest(string Key, RateLimitRule Rule, long Cost = 1)
{
    /// <summary>The longest key a store accepts, in characters.</summary>
    public const int MaxKeyLength = 512;
}
