using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard;

/// <summary>
/// Options of the send guard, bound from the <c>EmailGuard:SendGuard</c> configuration section and validated at startup.
/// </summary>
/// <example>
/// <code>
/// services.AddEmailGuard().AddSendGuard(o =>
/// {
///     o.Global.Add(RateLimitRule.PerHour(10_000));
///     o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(1_000));
///     o.Recipient.Add(RateLimitRule.PerHour(5));
/// });
/// </code>
/// </example>
[RenamedSetting("ClientIpv6PrefixLength", nameof(IPv6PrefixLength))]
[SameSetting(nameof(StripPlusTags), "AddressNormalization:StripPlusTags")]
public sealed class SendGuardOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string ConfigurationSectionName = EmailGuardServiceCollectionExtensions.ConfigurationSectionName + ":" + SectionKey;

    /// <summary>The section's key below <c>EmailGuard</c>.</summary>
    internal const string SectionKey = "SendGuard";

    /// <summary>Gets or sets the rules for every message the application sends.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Global { get; set; } = new();

    /// <summary>Gets or sets the default rules per tenant; an <see cref="ITenantLimitProvider"/> can override them per tenant.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Tenant { get; set; } = new();

    /// <summary>Gets or sets the rules per normalized sender address.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Sender { get; set; } = new();

    /// <summary>Gets or sets the rules per normalized recipient address.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Recipient { get; set; } = new();

    /// <summary>Gets or sets the rules per recipient domain.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions RecipientDomain { get; set; } = new();

    /// <summary>Gets or sets the rules per user.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions User { get; set; } = new();

    /// <summary>
    /// Gets or sets the rules per client network: IPv4 clients grouped by <see cref="IPv4PrefixLength"/>, IPv6 clients by
    /// <see cref="IPv6PrefixLength"/>.
    /// </summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions ClientIp { get; set; } = new();

    /// <summary>Gets or sets the rules for a category that has no entry in <see cref="Categories"/>; each category counts on its own.</summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Category { get; set; } = new();

    /// <summary>Gets or sets the rules per category name (case-insensitive), e.g. <c>signup</c>: 1,000 per hour in all.</summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, SendGuardDimensionOptions> Categories { get; set; } = new Dictionary<string, SendGuardDimensionOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the rules per tenant pool (case-insensitive), e.g. <c>trial</c>: 500 per day for all trial tenants
    /// together. A tenant is in the pool its <see cref="TenantLimits.Pool"/> names, or in <see cref="DefaultTenantPool"/>
    /// when the <see cref="ITenantLimitProvider"/> has no limits for it. A pool counts under the
    /// <see cref="EmailGuardDimension.Tenant"/> dimension, as the partition <c>pool:&lt;name&gt;</c>, in the same atomic
    /// acquire as the tenant's own rules; a tenant allowlisted for that dimension skips its pool too, and a flag's
    /// reduction of the tenant's limits leaves the pool's alone (the pool is not the tenant's alone).
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, SendGuardDimensionOptions> TenantPools { get; set; } = new Dictionary<string, SendGuardDimensionOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the pool (an entry of <see cref="TenantPools"/>) of every tenant the <see cref="ITenantLimitProvider"/>
    /// returns no <see cref="TenantLimits"/> for (a tenant without a plan), or of every tenant when there is no provider;
    /// also while the provider has not answered for the tenant yet.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: such tenants are in no pool.</value>
    public string? DefaultTenantPool { get; set; }

    /// <summary>
    /// Gets or sets the rules per content fingerprint: how many recipients one text may reach, e.g. the same content to
    /// at most 50 recipients an hour. A message costs one per recipient. Applies only to messages that carry
    /// <see cref="OutboundEmail.Content"/>; the fingerprint ignores case, layout, markup, numbers, greetings' names and
    /// URLs' query strings, so a template filled in for each recipient counts as one content.
    /// </summary>
    /// <value>The default value is no rule.</value>
    public SendGuardDimensionOptions Content { get; set; } = new();

    /// <summary>
    /// Gets or sets the near-duplicate fingerprint: when enabled, the <see cref="Content"/> rules also count a few band
    /// keys of a MinHash sketch of the text, so copies an attacker rewrote (synonyms, reordered or inserted sentences,
    /// look-alike letters) still fill one counter. Off by default.
    /// </summary>
    public NearDuplicateContentOptions NearDuplicate { get; set; } = new();

    /// <summary>
    /// Gets or sets the categories (case-insensitive) whose messages the <see cref="Content"/> rules do not count: the
    /// app's own templates, such as <c>signup</c> confirmations, which are one text to many recipients by design. Their
    /// content is still inspected.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    public IList<string> ContentExemptCategories { get; set; } = new List<string>();

    /// <summary>Gets or sets how the <see cref="IEmailContentInspector"/> is called: its time budget and failure mode.</summary>
    public ContentInspectionOptions ContentInspection { get; set; } = new();

    /// <summary>
    /// Gets or sets when a user or tenant whose messages keep hitting the <see cref="Content"/> rules is flagged
    /// (<see cref="EmailGuardFlagReasons.BulkContent"/>).
    /// </summary>
    public BulkContentFlagOptions BulkContent { get; set; } = new();

    /// <summary>
    /// Gets or sets when a user or tenant whose recipients are mostly new to it is flagged
    /// (<see cref="EmailGuardFlagReasons.FanOut"/>); off by default.
    /// </summary>
    public FanOutFlagOptions FanOut { get; set; } = new();

    /// <summary>Gets or sets the IPv6 prefix length client addresses are grouped by.</summary>
    /// <value>The default value is 64.</value>
    [Range(1, 128)]
    public int IPv6PrefixLength { get; set; } = IpAddressGrouping.DefaultIPv6PrefixLength;

    /// <summary>
    /// Gets or sets the IPv4 prefix length client addresses are grouped by: 24 makes every address of one /24 one client
    /// of the <see cref="ClientIp"/> rules, so a sender that rents a block of addresses cannot multiply its limit by
    /// rotating through them. The feedback attribution, the ratio breakers' network bans and the status APIs group alike.
    /// Changing it changes the counter keys: counts taken under the old grouping are not carried over.
    /// </summary>
    /// <value>The default value is 32: each address counts alone.</value>
    [Range(8, 32)]
    public int IPv4PrefixLength { get; set; } = 32;

    /// <summary>
    /// Gets or sets whether <c>+tags</c> are stripped from local parts, so tagged variants share one counter. The same
    /// setting as <see cref="EmailAddressNormalizationOptions.StripPlusTags"/> on <see cref="AddressNormalization"/>.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool StripPlusTags
    {
        get => AddressNormalization.StripPlusTags;
        set => AddressNormalization.StripPlusTags = value;
    }

    /// <summary>
    /// Gets or sets how addresses fold into counter, blocklist and allowlist keys: plus-tags and the provider table
    /// (Gmail dots, <c>googlemail.com</c>, sub-addressing). The endpoint middleware's <c>PerField</c> partitions use it too.
    /// </summary>
    /// <value>The default value folds plus-tags and the built-in provider aliases.</value>
    public EmailAddressNormalizationOptions AddressNormalization { get; set; } = new();

    /// <summary>
    /// Gets or sets whether a message counts once per recipient against a recipient domain (a message to 5 addresses
    /// at one domain costs 5) instead of once per message.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: 1 per message and domain.</value>
    public bool CountEachRecipientAgainstDomain { get; set; }

    /// <summary>Gets or sets the most distinct recipients one message may have; more is a <see cref="EmailSendReason.TooManyRecipients"/> denial.</summary>
    /// <value>The default value is 1,000.</value>
    [Range(1, 1_500)]
    public int MaxRecipientsPerMessage { get; set; } = 1_000;

    /// <summary>Gets or sets what a check does when the store cannot be reached in time.</summary>
    /// <value>The default value is <see cref="StoreFailureMode.LocalFallback"/>.</value>
    public StoreFailureMode FailureMode { get; set; } = StoreFailureMode.LocalFallback;

    /// <summary>
    /// Gets or sets how far ahead <see cref="IEmailSendGuard.ReserveAsync"/> may reserve a slot. A message that would
    /// wait longer is denied, as a check would deny it now. Callers cannot ask for more: the cap bounds how much of a
    /// shared budget (the provider's rate) any party can hold ahead of the others, and how late any reserved message
    /// goes out. Zero makes a reservation a check (now or never).
    /// </summary>
    /// <value>The default value is 5 minutes; at most <see cref="MaxReservationWaitLimit"/>.</value>
    public TimeSpan MaxReservationWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest <see cref="MaxReservationWait"/> allowed: mail that must wait longer belongs in the app's queue, not
    /// in a slot that holds the provider's budget.
    /// </summary>
    public static readonly TimeSpan MaxReservationWaitLimit = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how long a tenant's limits from the <see cref="ITenantLimitProvider"/> are reused before it is asked
    /// again, so that a check costs no database query.
    /// </summary>
    /// <remarks>
    /// An expired answer keeps serving checks while the next lookup runs, for one more duration at most: a check that
    /// finds an answer older than twice this (an instance that was idle) waits for the lookup, at most
    /// <see cref="StoreResilienceOptions.Timeout"/>, so a limit changed in the database applies on every instance
    /// within twice this time, and never to a check more than that after the change; call
    /// <see cref="IEmailGuardTenantLimits.InvalidateAsync"/> to apply it on every instance within
    /// <see cref="StateRefreshInterval"/> instead.
    /// <para>
    /// With a provider registered, it must be at least <see cref="StoreResilienceOptions.Timeout"/>, or the app fails at
    /// startup: an answer kept for less is gone before the lookup of a provider slower than the timeout completes, so
    /// every check would get the default tenant rules. Zero no longer means "ask on every check".
    /// </para>
    /// </remarks>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan TenantLimitCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets how many <see cref="ITenantLimitProvider"/> lookups run at once on this instance; the others wait
    /// for one of them to finish.
    /// </summary>
    /// <remarks>
    /// After <see cref="IEmailGuardTenantLimits.InvalidateAllAsync"/>, every active tenant's next check starts a lookup;
    /// this keeps them from reaching the app's database all at once, on every instance. A check whose lookup waits for
    /// its turn still waits at most <see cref="StoreResilienceOptions.Timeout"/>, and then gets the stricter of the
    /// tenant's last answer and the default tenant rules. Concurrent checks of one tenant share one lookup whatever
    /// this is. A lookup that has not answered within <see cref="TenantLimitCacheDuration"/> stops counting (warning
    /// 3012), so a few hung lookups do not hold every other tenant's up.
    /// </remarks>
    /// <value>The default value is 16.</value>
    [Range(1, 10_000)]
    public int TenantLimitLookupConcurrency { get; set; } = TenantLimitCache.DefaultLookupConcurrency;

    /// <summary>
    /// Gets or sets how often this instance re-reads blocklists, allowlists and flags changed by other instances.
    /// Changes made through this instance apply at once.
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan StateRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the share of a limit (0 to 1) at which the near-limit event is raised once per window.
    /// </summary>
    /// <value>The default value is 0.8.</value>
    [Range(0.0, 1.0)]
    public double NearLimitThreshold { get; set; } = 0.8;

    /// <summary>
    /// Gets or sets the fair share of the <see cref="Global"/> window rules per tenant: once such a rule is contended,
    /// each active tenant may use at most its weighted share of the rest of the window.
    /// </summary>
    /// <value>The default value is off.</value>
    public FairShareOptions FairShare { get; set; } = new();

    /// <summary>Gets or sets the dimensions allowlisted parties skip.</summary>
    public AllowlistSkipOptions Allowlist { get; set; } = new();

    /// <summary>
    /// Gets or sets what a flag does, per reason (case-insensitive). Reasons not listed use <see cref="DefaultFlagPolicy"/>.
    /// </summary>
    /// <value>
    /// The default value maps <c>high_bounce_rate</c>, <c>complaint</c>, <c>complaint_rate</c>, <c>bulk_content</c> and <c>fan_out</c> to a tenth of the normal limits for 24 hours,
    /// and <c>manual</c> to a suspension.
    /// </value>
    public IDictionary<string, FlagPolicy> FlagPolicies { get; set; } = new Dictionary<string, FlagPolicy>(StringComparer.OrdinalIgnoreCase)
    {
        [EmailGuardFlagReasons.HighBounceRate] = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) },
        [EmailGuardFlagReasons.Complaint] = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) },
        [EmailGuardFlagReasons.ComplaintRate] = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) },
        [EmailGuardFlagReasons.Manual] = new() { Suspend = true, Duration = TimeSpan.FromHours(24) },
        [EmailGuardFlagReasons.BulkContent] = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) },
        [EmailGuardFlagReasons.FanOut] = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) },
    };

    /// <summary>Gets or sets the policy of reasons without an entry in <see cref="FlagPolicies"/>.</summary>
    /// <value>The default value is a tenth of the normal limits for 24 hours.</value>
    public FlagPolicy DefaultFlagPolicy { get; set; } = new() { LimitFactor = 0.1, Duration = TimeSpan.FromHours(24) };

    /// <summary>Gets the events the guard raises; assign callbacks in code.</summary>
    public EmailGuardEvents Events { get; } = new();

    internal FlagPolicy GetFlagPolicy(string reason)
        => FlagPolicies.TryGetValue(reason, out FlagPolicy? policy) ? policy : DefaultFlagPolicy;
}
