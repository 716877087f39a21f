namespace EmailGuard.AspNetCore;

/// <summary>
/// The cross-layer penalty of an endpoint policy: a client network whose requests to this policy caused mail that
/// hard-bounced or drew a complaint <see cref="Bounces"/> times within <see cref="Within"/> is banned from the policy for
/// <see cref="BanFor"/>. A ban answers like a limit (429 with <c>Retry-After</c>).
/// </summary>
/// <remarks>
/// The mail must carry the request's policy and client address (<see cref="OutboundEmail.EndpointPolicy"/> and
/// <see cref="OutboundEmail.ClientIp"/>), so its feedback names them. The bounces and the ban are kept in the rate-limit
/// store, so every instance on one Redis shares them, whichever instance records the feedback. The network is the
/// one the policy counts (<see cref="EmailGuardEndpointOptions.IPv6PrefixLength"/>), whatever the send guard groups.
/// </remarks>
public sealed class EmailGuardBounceBanOptions
{
    /// <summary>Gets or sets how many hard bounces or complaints within <see cref="Within"/> ban the network.</summary>
    /// <value>The default value is 2: real people rarely type an address that bounces twice.</value>
    public int Bounces { get; set; } = 2;

    /// <summary>Gets or sets the sliding period the bounces are counted over.</summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan Within { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Gets or sets how long the ban lasts.</summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan BanFor { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The settings configuration holds keys for, when these options were bound from it.</summary>
    internal AssignedSettings Assigned { get; } = new();

    /// <summary>
    /// These options over <paramref name="code"/>'s: when they come from configuration, each setting it holds a key
    /// for wins and every other setting keeps the code's value; options set in code win whole.
    /// </summary>
    /// <param name="code">The options the policy builder set, if any.</param>
    /// <returns>The options that apply.</returns>
    internal EmailGuardBounceBanOptions Over(EmailGuardBounceBanOptions? code)
        => code is null || !Assigned.FromConfiguration
            ? this
            : new()
            {
                Bounces = Assigned.Pick(nameof(Bounces), Bounces, code.Bounces),
                Within = Assigned.Pick(nameof(Within), Within, code.Within),
                BanFor = Assigned.Pick(nameof(BanFor), BanFor, code.BanFor),
            };
}
