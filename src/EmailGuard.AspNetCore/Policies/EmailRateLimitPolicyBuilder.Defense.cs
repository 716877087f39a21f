namespace EmailGuard.AspNetCore;

/// <summary>The defenses a policy adds to its limits: bans, the surge breaker and the challenge.</summary>
public sealed partial class EmailRateLimitPolicyBuilder
{
    /// <summary>
    /// Bans a client network that keeps hitting this policy's limits (Fail2Ban): <c>MaxDenials</c> denials within
    /// <c>Within</c> ban it for <c>BanFor</c>, longer on each repeat. Needs a <see cref="PerClientIp"/> partition.
    /// </summary>
    /// <param name="configure">Sets the thresholds; the defaults ban for an hour after 5 denials in 10 minutes.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithEscalatingBan(Action<EmailGuardEscalatingBanOptions>? configure = null)
    {
        var options = new EmailGuardEscalatingBanOptions();
        configure?.Invoke(options);
        Defense.EscalatingBan = options;
        return this;
    }

    /// <summary>
    /// rack-attack's Allow2Ban: a client network may make <c>MaxRequests</c> requests to this policy within
    /// <c>Within</c>, admitted or not; the one that reaches the count starts a ban of <c>BanFor</c>. Needs a
    /// <see cref="PerClientIp"/> partition.
    /// </summary>
    /// <param name="configure">Sets the thresholds; the defaults ban for an hour after 10 requests in a minute.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithAllow2Ban(Action<EmailGuardAllow2BanOptions>? configure = null)
    {
        var options = new EmailGuardAllow2BanOptions();
        configure?.Invoke(options);
        Defense.Allow2Ban = options;
        return this;
    }

    /// <summary>
    /// Bans a client network from this policy when mail its requests caused hard-bounces or draws complaints
    /// <c>Bounces</c> times within <c>Within</c>, for <c>BanFor</c>. The mail must carry the policy and the client address
    /// (<see cref="OutboundEmail.EndpointPolicy"/>, <see cref="OutboundEmail.ClientIp"/>). Needs a <see cref="PerClientIp"/> partition.
    /// </summary>
    /// <param name="configure">Sets the thresholds; the defaults ban for a day after 2 bounces in a day.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithBounceBan(Action<EmailGuardBounceBanOptions>? configure = null)
    {
        var options = new EmailGuardBounceBanOptions();
        configure?.Invoke(options);
        Defense.BounceBan = options;
        return this;
    }

    /// <summary>
    /// Trips a breaker when this policy's total rate over all clients rises far above normal; while it is tripped the
    /// policy answers "challenge required" (or denies, per <see cref="EmailGuardSurgeBreakerOptions.Action"/>).
    /// </summary>
    /// <param name="configure">Sets the threshold: absolute, a multiple of the learned baseline, or both.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithSurgeBreaker(Action<EmailGuardSurgeBreakerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new EmailGuardSurgeBreakerOptions();
        configure(options);
        Defense.SurgeBreaker = options;
        return this;
    }

    /// <summary>
    /// Makes every request to this policy carry a passed challenge (see <see cref="IEmailGuardChallengeFeature"/>), or
    /// answer "challenge required". The limits still apply to requests that pass.
    /// </summary>
    /// <param name="required">Whether the challenge is required.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder RequireChallenge(bool required = true)
    {
        Defense.RequireChallenge = required;
        return this;
    }
}
