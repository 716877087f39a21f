using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard;

/// <summary>
/// The ratio breakers: thresholds on the rolling bounce and complaint ratios (<see cref="IEmailFeedbackCounts"/>) that
/// flag a tenant or user automatically, and a bounce count that bans a client network at the endpoints. Bound from the
/// <c>EmailGuard:RatioBreakers</c> configuration section and validated at startup. The ratios cover
/// <see cref="EmailFeedbackOptions.CountWindow"/>: sends are counted when the guard admits a message, bounces and
/// complaints when feedback is recorded.
/// </summary>
/// <remarks>
/// The defaults act well before the providers' lines: Amazon SES reviews an account at a 5 % bounce rate and a 0.1 %
/// complaint rate, and may pause it at 10 % and 0.5 %. See <c>docs/deliverability.md</c>.
/// </remarks>
public sealed class EmailRatioBreakerOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string ConfigurationSectionName = EmailGuardServiceCollectionExtensions.ConfigurationSectionName + ":" + SectionKey;

    /// <summary>The section's key below <c>EmailGuard</c>.</summary>
    internal const string SectionKey = "RatioBreakers";

    /// <summary>
    /// The category <see cref="RiskyCategories"/> holds by default, <c>signup</c>: the category of sign-up confirmations,
    /// the mail a bot makes an app send to addresses that bounce. Packages that file such mail under a category of their
    /// own compare the list with it to tell whether it is still the default.
    /// </summary>
    public const string DefaultRiskyCategory = "signup";

    /// <summary>
    /// The <see cref="EmailGuardFlag.CreatedBy"/> of every flag the ratio breakers write, and the <see cref="EmailGuardListEntry.CreatedBy"/> of the
    /// client networks they ban: tells a breaker's trip from an operator's flag. The breaker's own
    /// <see cref="OnTripped"/> says what each trip set, and why.
    /// </summary>
    public const string FlaggedBy = "emailguard:ratio-breaker";

    /// <summary>Gets or sets whether the breakers act. Off, the ratios are still counted and readable.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Gets or sets the sends a party must have within the window before its ratios act: one bounce in three sends
    /// says little. The providers measure over a representative volume in the same way.
    /// </summary>
    /// <value>The default value is 50.</value>
    [Range(1, 10_000_000)]
    public long MinimumSends { get; set; } = 50;

    /// <summary>Gets or sets the hard-bounce ratio at which a party's limits are reduced (reason <c>high_bounce_rate</c>).</summary>
    /// <value>The default value is 0.02 (2 %), against SES's 5 % review line.</value>
    [Range(0.000001, 1.0)]
    public double BounceRateToReduce { get; set; } = 0.02;

    /// <summary>Gets or sets the hard-bounce ratio at which a party is suspended (reason <c>high_bounce_rate</c>).</summary>
    /// <value>The default value is 0.04 (4 %).</value>
    [Range(0.000001, 1.0)]
    public double BounceRateToSuspend { get; set; } = 0.04;

    /// <summary>Gets or sets the complaint ratio at which a party's limits are reduced (reason <c>complaint_rate</c>).</summary>
    /// <value>The default value is 0.0005 (0.05 %), against SES's 0.1 % review line and Gmail's 0.1 % target.</value>
    [Range(0.000001, 1.0)]
    public double ComplaintRateToReduce { get; set; } = 0.0005;

    /// <summary>Gets or sets the complaint ratio at which a party is suspended (reason <c>complaint_rate</c>).</summary>
    /// <value>The default value is 0.001 (0.1 %).</value>
    [Range(0.000001, 1.0)]
    public double ComplaintRateToSuspend { get; set; } = 0.001;

    /// <summary>Gets or sets the factor applied to a party's limits while its breaker is reduced.</summary>
    /// <value>The default value is 0.1.</value>
    [Range(0.000001, 1.0)]
    public double ReducedLimitFactor { get; set; } = 0.1;

    /// <summary>
    /// Gets or sets how long a first trip lasts (the flag's expiry). Then the breaker is half-open for
    /// <see cref="HalfOpenFor"/>; a trip again within <see cref="EscalationMemory"/> lasts longer
    /// (<see cref="EscalationFactor"/>, up to <see cref="MaxTripFor"/>).
    /// </summary>
    /// <value>The default value is 6 hours.</value>
    [Range(typeof(TimeSpan), "00:00:01", "366.00:00:00")]
    public TimeSpan TripFor { get; set; } = TimeSpan.FromHours(6);

    /// <summary>
    /// Gets or sets how long a tenant's or user's breaker stays half-open after a trip ends: its mail flows at the reduced
    /// limits (<see cref="ReducedLimitFactor"/>, flag reason <c>high_bounce_rate_half_open</c> or
    /// <c>complaint_rate_half_open</c>), and its ratios are measured over the mail it sends meanwhile (the probe). A
    /// probe over a line trips the breaker again, for longer; a probe that stays under the lines recovers it fully at the
    /// end, with <see cref="OnRecovered"/>. <see cref="TimeSpan.Zero"/> turns the half-open phase off: the trip simply
    /// expires. A whole number of seconds.
    /// </summary>
    /// <value>The default value is 6 hours.</value>
    public TimeSpan HalfOpenFor { get; set; } = TimeSpan.FromHours(6);

    /// <summary>
    /// Gets or sets the volume a half-open probe's ratios are measured over at least: bounces over the probe's sends or
    /// this, whichever is more. A party cannot stay under a line by sending little: with the defaults, a second hard
    /// bounce in the probe trips it again whatever it sent.
    /// </summary>
    /// <value>The default value is 100.</value>
    [Range(1, 10_000_000)]
    public long HalfOpenMinimumSends { get; set; } = 100;

    /// <summary>Gets or sets how much longer each trip within <see cref="EscalationMemory"/> of the last lasts than the one before.</summary>
    /// <value>The default value is 2 (6 hours, then 12, then 24 …).</value>
    [Range(1.0, 100.0)]
    public double EscalationFactor { get; set; } = 2;

    /// <summary>Gets or sets the longest a trip lasts, however often the party tripped.</summary>
    /// <value>The default value is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:01", "366.00:00:00")]
    public TimeSpan MaxTripFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Gets or sets how long after a trip and its half-open phase end the breaker remembers how often it tripped: a trip
    /// within this escalates, a trip after it starts again at <see cref="TripFor"/>.
    /// </summary>
    /// <value>The default value is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:01", "366.00:00:00")]
    public TimeSpan EscalationMemory { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Gets or sets the hard bounces or complaints of mail caused by requests from one client network (as the
    /// attribution's <see cref="EmailSendAttribution.ClientNetwork"/> names it) after which that network is put on the
    /// client-network blocklist, which the endpoint middleware enforces. No minimum volume applies: real people do not
    /// type addresses that bounce twice. 0 turns this off.
    /// </summary>
    /// <value>The default value is 2.</value>
    [Range(0, 1_000_000)]
    public int NetworkBouncesToBan { get; set; } = 2;

    /// <summary>Gets or sets how long a client network stays banned after <see cref="NetworkBouncesToBan"/>.</summary>
    /// <value>The default value is 1 day.</value>
    [Range(typeof(TimeSpan), "00:00:01", "366.00:00:00")]
    public TimeSpan NetworkBanFor { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets the categories the account-wide breaker tightens (lower-cased when matched): their limits are multiplied by
    /// <see cref="ReducedLimitFactor"/> (flag on <see cref="EmailGuardPartyType.Category"/>, reason
    /// <c>account_bounce_rate</c> or <c>account_complaint_rate</c>) while the whole account's ratio, or the category's own,
    /// is over <see cref="AccountBounceRateToTighten"/> or <see cref="AccountComplaintRateToTighten"/>, until both fall
    /// under the release lines. Give these categories a cap (<see cref="SendGuardOptions.Categories"/>): a category
    /// without rules has nothing to reduce. A list in configuration replaces the default (an empty list, <c>[]</c>, turns
    /// the account-wide breaker off); in code, clear the list to turn it off.
    /// </summary>
    /// <value>The default value is <see cref="DefaultRiskyCategory"/> (<c>signup</c>), the category of sign-up confirmations.</value>
    public IList<string> RiskyCategories { get; } = [DefaultRiskyCategory];

    /// <summary>
    /// Gets the tenant pools (names in <see cref="SendGuardOptions.TenantPools"/>) whose own ratios no breaker judges.
    /// A pool's breaker reduces or suspends every tenant of the pool together: right for a pool of trials, which may stop
    /// together, wrong for a pool of paying tenants, where one tenant's bounces would stop the others. Such a pool still
    /// caps its tenants' total, its ratios are still counted (status, dashboard), each of its tenants is still judged on
    /// its own, and the account-wide breaker still judges the account. A name with no rules in
    /// <see cref="SendGuardOptions.TenantPools"/> stops the app at startup (a typo would leave the pool judged).
    /// </summary>
    /// <value>The default value is empty: every pool with rules is judged.</value>
    public IList<string> ExcludedTenantPools { get; } = [];

    /// <summary>Gets or sets the account's (or a risky category's) hard-bounce ratio at which the risky categories are tightened.</summary>
    /// <value>The default value is 0.03 (3 %), against SES's 5 % review line.</value>
    [Range(0.000001, 1.0)]
    public double AccountBounceRateToTighten { get; set; } = 0.03;

    /// <summary>Gets or sets the hard-bounce ratio under which a tightened category is released (lower than the tighten line: hysteresis).</summary>
    /// <value>The default value is 0.02 (2 %).</value>
    [Range(0.000001, 1.0)]
    public double AccountBounceRateToRelease { get; set; } = 0.02;

    /// <summary>Gets or sets the account's (or a risky category's) complaint ratio at which the risky categories are tightened.</summary>
    /// <value>The default value is 0.0008 (0.08 %), against SES's and Gmail's 0.1 %.</value>
    [Range(0.000001, 1.0)]
    public double AccountComplaintRateToTighten { get; set; } = 0.0008;

    /// <summary>Gets or sets the complaint ratio under which a tightened category is released.</summary>
    /// <value>The default value is 0.0005 (0.05 %).</value>
    [Range(0.000001, 1.0)]
    public double AccountComplaintRateToRelease { get; set; } = 0.0005;

    /// <summary>Gets or sets the sends the account (or the category) must have within the window before the account-wide breaker acts.</summary>
    /// <value>The default value is 200.</value>
    [Range(1, 100_000_000)]
    public long AccountMinimumSends { get; set; } = 200;

    /// <summary>
    /// Gets or sets how long a category stays tightened before the ratios are read again: still over the release line,
    /// it stays tightened for as long again; under it, it is released.
    /// </summary>
    /// <value>The default value is 15 minutes.</value>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan AccountCheckEvery { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Gets or sets the callback raised when a breaker trips (reduces, suspends, or bans a network).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailRatioBreakerArguments, ValueTask>? OnTripped { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when a half-open breaker recovers: its probe stayed under the lines for
    /// <see cref="HalfOpenFor"/>; and when a risky category's account-wide tightening is released. Every instance
    /// follows the half-open phases and tightened categories it sees in the shared flags, and at the end the first
    /// instance to claim it in the shared key-value store reads the counts and decides; the callback is raised once,
    /// on that instance, whichever instance tripped the breaker, and also when that one has stopped. When the counts
    /// cannot be read, the flags expire all the same, without the callback (logged, event id 2601).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailRatioBreakerRecoveredArguments, ValueTask>? OnRecovered { get; set; }
}
