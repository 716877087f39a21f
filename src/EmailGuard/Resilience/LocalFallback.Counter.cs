namespace EmailGuard;

/// <summary>The per-counter memory of the local fallback.</summary>
internal sealed partial class LocalFallback
{
    private readonly record struct CounterId(string RuleId, string Key);

    /// <summary>One counter's window, what the shared store counted in it, and what was admitted here in it. Guarded by locking the instance.</summary>
    private sealed class Counter(RateLimitRule rule)
    {
        public RateLimitRule Rule = rule;
        public long Window = long.MinValue;
        public long Seen;
        public long Local;
        public long Written;
        public Task? Running;

        /// <summary>Set, under the lock, when a purge took the counter out of the dictionary: it may not count anything more.</summary>
        public bool Removed;

        /// <summary>Moves to <paramref name="window"/>, forgetting an earlier one.</summary>
        public void Roll(RateLimitRule rule, long window)
        {
            Rule = rule;
            if (Window != window)
            {
                Window = window;
                Seen = 0;
                Local = 0;
                Written = 0;
            }
        }
    }
}
