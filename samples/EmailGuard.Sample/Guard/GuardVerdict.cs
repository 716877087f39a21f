namespace EmailGuard.Sample.Guard;

/// <summary>What the sample learned from the guard about one mail.</summary>
public sealed record GuardVerdict(bool Allowed, string? Reason, TimeSpan RetryAfter)
{
    public static readonly GuardVerdict Admitted = new(true, null, TimeSpan.Zero);
}
