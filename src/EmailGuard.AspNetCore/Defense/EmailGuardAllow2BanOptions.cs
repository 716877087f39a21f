namespace EmailGuard.AspNetCore;

/// <summary>
/// rack-attack's Allow2Ban for an endpoint policy: a client network may make <see cref="MaxRequests"/> requests to the
/// policy within <see cref="Within"/>; the request that reaches the count is still admitted, and the network is then
/// banned from the policy for <see cref="BanFor"/>, with 429 and <c>Retry-After</c>.
/// </summary>
/// <remarks>
/// Where the escalating ban (Fail2Ban) counts the requests the policy's limits deny, Allow2Ban counts every request the
/// network makes, admitted or not, so a client that never touches a limit (a login form tried slowly) is banned too,
/// and for far longer than its window. Requests rejected by a ban are not counted. Counts and bans are kept in the
/// rate-limit store, shared by every instance.
/// </remarks>
public sealed class EmailGuardAllow2BanOptions
{
    /// <summary>Gets or sets how many requests within <see cref="Within"/> are allowed; the one that reaches it starts the ban.</summary>
    /// <value>The default value is 10.</value>
    public int MaxRequests { get; set; } = 10;

    /// <summary>Gets or sets the sliding period the requests are counted over (rack-attack's <c>findtime</c>).</summary>
    /// <value>The default value is 1 minute.</value>
    public TimeSpan Within { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how long the ban lasts (rack-attack's <c>bantime</c>).</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan BanFor { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The settings configuration holds keys for, when these options were bound from it.</summary>
    internal AssignedSettings Assigned { get; } = new();

    /// <summary>
    /// These options over <paramref name="code"/>'s: when they come from configuration, each setting it holds a key
    /// for wins and every other setting keeps the code's value; options set in code win whole.
    /// </summary>
    /// <param name="code">The options the policy builder set, if any.</param>
    /// <returns>The options that apply.</returns>
    internal EmailGuardAllow2BanOptions Over(EmailGuardAllow2BanOptions? code)
        => code is null || !Assigned.FromConfiguration
            ? this
            : new()
            {
                MaxRequests = Assigned.Pick(nameof(MaxRequests), MaxRequests, code.MaxRequests),
                Within = Assigned.Pick(nameof(Within), Within, code.Within),
                BanFor = Assigned.Pick(nameof(BanFor), BanFor, code.BanFor),
            };
}
