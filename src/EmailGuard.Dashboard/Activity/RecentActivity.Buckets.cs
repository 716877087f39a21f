namespace EmailGuard.Dashboard;

/// <summary>What one 5-minute bucket of recent activity holds.</summary>
internal sealed partial class RecentActivity
{
    private sealed class Bucket(long index, int capacity)
    {
        public long Index { get; } = index;

        public SpaceSavingSketch[] Used { get; } = [.. Enumerable.Range(0, DimensionCount).Select(_ => new SpaceSavingSketch(capacity))];

        public SpaceSavingSketch[] Denied { get; } = [.. Enumerable.Range(0, DimensionCount).Select(_ => new SpaceSavingSketch(capacity))];

        public Dictionary<string, PolicyCounts> Policies { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> DenialReasons { get; } = new(StringComparer.Ordinal);

        public long Checks { get; set; }

        public long Denials { get; set; }
    }

    private sealed class PolicyCounts
    {
        public long Allowed;
        public long Denied;
        public Dictionary<string, long> ByOutcome { get; } = new(StringComparer.Ordinal);
    }
}
