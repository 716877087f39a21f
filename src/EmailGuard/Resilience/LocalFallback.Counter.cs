namespace EmailGuard;

/// <summary>The per-counter memory of the local fallback.</summary>
internal sealed partial class LocalFallback
{
    private readonly record struct CounterId(string RuleId, string Key);

    /// <summary>
    /// One counter's window, what the shared store counted in it, and what was admitted here in it. Guarded by locking
    /// the instance, but for <see cref="Seen"/>, which only grows within a window and is raised without the lock by
    /// <see cref="TryRaiseSeen"/>: every admitted acquire raises it, and a guard's global, tenant and sender counters are
    /// raised by every caller at once.
    /// </summary>
    private sealed class Counter(RateLimitRule rule)
    {
        public RateLimitRule Rule = rule;
        public long Window = long.MinValue;

        /// <summary>The highest count the shared store reported in <see cref="Window"/>. Written only by <see cref="RaiseSeen"/> and <see cref="Roll"/>.</summary>
        public long Seen;
        public long Local;
        public long Written;
        public Task? Running;

        /// <summary>Set, under the lock, when a purge took the counter out of the dictionary: it may not count anything more.</summary>
        public bool Removed;

        /// <summary>
        /// Without the lock: raises <see cref="Seen"/> to <paramref name="count"/> when the counter already is in
        /// <paramref name="window"/> under <paramref name="rule"/>; false when it is not, for the caller to lock and
        /// <see cref="Roll"/> it. A purged counter is never in the current window (a purge removes only counters of
        /// ended windows, and nothing rolls a removed one), so this never raises a counter the write-back no longer visits.
        /// </summary>
        /// <remarks>
        /// A caller that read the window just before another rolled the counter to the next one can raise the next
        /// window's count to what the store counted in the last: the fallback then remembers more spent than was, and
        /// admits less during an outage, never more.
        /// </remarks>
        public bool TryRaiseSeen(RateLimitRule rule, long window, long count)
        {
            if (Volatile.Read(ref Window) != window || !ReferenceEquals(Volatile.Read(ref Rule), rule))
            {
                return false;
            }

            RaiseSeen(count);
            return true;
        }

        /// <summary>Raises <see cref="Seen"/> to at least <paramref name="count"/>, with or without the lock.</summary>
        public void RaiseSeen(long count) => AtomicMax.Raise(ref Seen, count);

        /// <summary>Moves to <paramref name="window"/>, forgetting an earlier one. Under the lock.</summary>
        public void Roll(RateLimitRule rule, long window)
        {
            Volatile.Write(ref Rule, rule);
            if (Window != window)
            {
                // The counts first, then the window: a caller of TryRaiseSeen that sees the new window sees them reset.
                Interlocked.Exchange(ref Seen, 0);
                Local = 0;
                Written = 0;
                Volatile.Write(ref Window, window);
            }
        }
    }
}
