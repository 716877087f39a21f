namespace EmailGuard;

/// <summary>What a party's active flags do to a check.</summary>
internal readonly record struct FlagEffect(EmailGuardFlag? Suspension, double LimitFactor, EmailGuardFlag? Reduction)
{
    public static readonly FlagEffect None = new(null, 1, null);

    public bool IsReduced => LimitFactor < 1;
}
