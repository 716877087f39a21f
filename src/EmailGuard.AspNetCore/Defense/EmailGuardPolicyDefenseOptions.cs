using Microsoft.Extensions.Configuration;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The defenses of one endpoint policy beyond its limits: escalating bans, Allow2Ban, bounce bans, a surge breaker and
/// challenge mode. Set in code with <see cref="EmailRateLimitPolicyBuilder.WithEscalatingBan"/>,
/// <see cref="EmailRateLimitPolicyBuilder.WithAllow2Ban"/>, <see cref="EmailRateLimitPolicyBuilder.WithBounceBan"/>,
/// <see cref="EmailRateLimitPolicyBuilder.WithSurgeBreaker"/> and <see cref="EmailRateLimitPolicyBuilder.RequireChallenge"/>,
/// or in configuration under <c>EmailGuard:Endpoints:PolicyDefenses:&lt;policy&gt;</c>, which wins setting by setting.
/// </summary>
public sealed class EmailGuardPolicyDefenseOptions
{
    /// <summary>Gets or sets the escalating ban, or <see langword="null"/> for none.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public EmailGuardEscalatingBanOptions? EscalatingBan { get; set; }

    /// <summary>Gets or sets the Allow2Ban (every request counts; too many ban), or <see langword="null"/> for none.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public EmailGuardAllow2BanOptions? Allow2Ban { get; set; }

    /// <summary>
    /// Gets or sets the bounce ban (mail the network's requests caused bounced; it is banned), or <see langword="null"/>
    /// for none.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public EmailGuardBounceBanOptions? BounceBan { get; set; }

    /// <summary>Gets or sets the surge breaker, or <see langword="null"/> for none.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public EmailGuardSurgeBreakerOptions? SurgeBreaker { get; set; }

    /// <summary>
    /// Gets or sets whether every request must carry a passed challenge (see <see cref="IEmailGuardChallengeFeature"/>),
    /// breaker or not; <see langword="null"/> leaves the code's choice.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public bool? RequireChallenge { get; set; }

    /// <summary>Records, for each defense bound from <paramref name="section"/>, the settings it holds keys for.</summary>
    /// <param name="section">This policy's section under <c>EmailGuard:Endpoints:PolicyDefenses</c>.</param>
    internal void MarkConfigured(IConfigurationSection section)
    {
        EscalatingBan?.Assigned.MarkFrom(section.GetSection(nameof(EscalatingBan)));
        Allow2Ban?.Assigned.MarkFrom(section.GetSection(nameof(Allow2Ban)));
        BounceBan?.Assigned.MarkFrom(section.GetSection(nameof(BounceBan)));
        SurgeBreaker?.Assigned.MarkFrom(section.GetSection(nameof(SurgeBreaker)));
    }
}
