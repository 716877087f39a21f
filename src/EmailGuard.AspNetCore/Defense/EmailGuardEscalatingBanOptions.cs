namespace EmailGuard.AspNetCore;

/// <summary>
/// Fail2Ban for an endpoint policy: a client network that is denied by the policy's limits
/// <see cref="MaxDenials"/> times within <see cref="Within"/> is banned from the policy for <see cref="BanFor"/>,
/// longer on each repeat. A ban answers like a limit (429 with <c>Retry-After</c>) and consumes none of the policy's quota.
/// </summary>
/// <remarks>
/// The client is its network as the policy counts it (an IPv6 client by its /64 unless configured otherwise), so a
/// client that rotates addresses inside its prefix stays banned. Denials, bans and repeats are counted in the rate-limit
/// store, so every instance on one Redis shares them.
/// </remarks>
public sealed class EmailGuardEscalatingBanOptions
{
    /// <summary>Gets or sets how many denials within <see cref="Within"/> start a ban.</summary>
    /// <value>The default value is 5.</value>
    public int MaxDenials { get; set; } = 5;

    /// <summary>Gets or sets the sliding period the denials are counted over.</summary>
    /// <value>The default value is 10 minutes.</value>
    public TimeSpan Within { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets how long a first ban lasts.</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan BanFor { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets or sets what each repeat multiplies the ban by; 1 bans for <see cref="BanFor"/> every time.</summary>
    /// <value>The default value is 2.</value>
    public double EscalationFactor { get; set; } = 2;

    /// <summary>Gets or sets the longest ban a repeat escalates to.</summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan MaxBanFor { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Gets or sets how long a ban is remembered to escalate the next one.</summary>
    /// <value>The default value is 7 days.</value>
    public TimeSpan RepeatMemory { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The settings configuration holds keys for, when these options were bound from it.</summary>
    internal AssignedSettings Assigned { get; } = new();

    /// <summary>
    /// These options over <paramref name="code"/>'s: when they come from configuration, each setting it holds a key
    /// for wins and every other setting keeps the code's value; options set in code win whole.
    /// </summary>
    /// <param name="code">The options the policy builder set, if any.</param>
    /// <returns>The options that apply.</returns>
    internal EmailGuardEscalatingBanOptions Over(EmailGuardEscalatingBanOptions? code)
        => code is null || !Assigned.FromConfiguration
            ? this
            : new()
            {
                MaxDenials = Assigned.Pick(nameof(MaxDenials), MaxDenials, code.MaxDenials),
                Within = Assigned.Pick(nameof(Within), Within, code.Within),
                BanFor = Assigned.Pick(nameof(BanFor), BanFor, code.BanFor),
                EscalationFactor = Assigned.Pick(nameof(EscalationFactor), EscalationFactor, code.EscalationFactor),
                MaxBanFor = Assigned.Pick(nameof(MaxBanFor), MaxBanFor, code.MaxBanFor),
                RepeatMemory = Assigned.Pick(nameof(RepeatMemory), RepeatMemory, code.RepeatMemory),
            };
}
