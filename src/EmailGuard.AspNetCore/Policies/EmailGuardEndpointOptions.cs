using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Endpoint policies, path rules, allowlists and responses of the EmailGuard middleware. Everything but the delegates
/// and the policies added in code binds from the <c>EmailGuard:Endpoints</c> configuration section and reloads with it.
/// </summary>
[RenamedSetting("SafelistedNetworks", nameof(AllowlistedNetworks))]
[RenamedSetting("SafelistedUsers", nameof(AllowlistedUsers))]
public sealed class EmailGuardEndpointOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string ConfigurationSectionName = "EmailGuard:Endpoints";

    /// <summary>The largest <see cref="MaxBodyBytes"/> accepted: 16 MiB.</summary>
    public const int MaxBodyBytesLimit = 16 * 1024 * 1024;

    private readonly Dictionary<string, EmailRateLimitPolicyBuilder> _policies = new(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets the status code of a rate-limited response. Store outages under
    /// <see cref="StoreFailureMode.FailClosed"/> always answer 503.
    /// </summary>
    /// <value>The default value is 429.</value>
    [Range(400, 599)]
    public int RejectionStatusCode { get; set; } = StatusCodes.Status429TooManyRequests;

    /// <summary>
    /// Gets or sets the largest request body read to find a <see cref="EmailRateLimitPolicyBuilder.PerField"/> value;
    /// a larger body is answered 413 before the endpoint runs.
    /// </summary>
    /// <value>The default value is 65536 (64 KiB).</value>
    [Range(1, MaxBodyBytesLimit)]
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Gets or sets the prefix length IPv6 clients are grouped by.</summary>
    /// <value>The default value is 64.</value>
    [Range(1, 128)]
    public int IPv6PrefixLength { get; set; } = IpAddressGrouping.DefaultIPv6PrefixLength;

    /// <summary>Gets or sets the prefix length IPv4 clients are grouped by; 32 counts every address alone.</summary>
    /// <value>The default value is 32.</value>
    [Range(1, 32)]
    public int IPv4PrefixLength { get; set; } = 32;

    /// <summary>
    /// Gets or sets what client-IP partitions and per-IP path rules do with a request whose
    /// <c>Connection.RemoteIpAddress</c> is unknown. The first such request logs a warning (event 1500).
    /// </summary>
    /// <value>The default value is <see cref="MissingClientIpBehavior.Reject"/>: such requests answer 400.</value>
    public MissingClientIpBehavior MissingClientIp { get; set; } = MissingClientIpBehavior.Reject;

    /// <summary>
    /// Gets or sets whether allowed responses carry the <c>RateLimit-Policy</c> and <c>RateLimit</c> headers too.
    /// A policy can override it with <see cref="EmailRateLimitPolicyBuilder.WithQuotaHeaders"/>.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool QuotaHeadersOnAllowedResponses { get; set; }

    /// <summary>
    /// Gets or sets a callback that writes the response of a rejected request instead of the problem-details body. The
    /// status code, <c>Retry-After</c> and <c>RateLimit</c> headers are already set when it runs; it may change them.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: a problem-details body is written.</value>
    public Func<EmailRateLimitRejectedContext, ValueTask>? OnRejected { get; set; }

    /// <summary>
    /// Gets the client networks, in CIDR notation (<c>10.0.0.0/8</c>, <c>2001:db8::/32</c>) or as single addresses,
    /// that no policy or path rule limits. Each is a /8 of IPv4 or a /32 of IPv6 or narrower: a wider one fails at
    /// startup, since a few of them together (<c>0.0.0.0/1</c> and <c>128.0.0.0/1</c>) exempt every client.
    /// </summary>
    public IList<string> AllowlistedNetworks { get; } = new List<string>();

    /// <summary>
    /// Gets the user ids (as <see cref="EmailRateLimitPolicyBuilder.PerUser(RateLimitRule[])"/> reads them) that are never
    /// limited. An entry matches the id exactly as the claim holds it (ordinal), not folded as <c>PerUser</c> counts it:
    /// <c>Admin</c> does not exempt <c>admin</c>, since in an app that compares ids case-sensitively that is another user,
    /// and a folded match would exempt whoever signs up as one of its spellings.
    /// </summary>
    public IList<string> AllowlistedUsers { get; } = new List<string>();

    /// <summary>Gets or sets a predicate that exempts a request from every policy and path rule when it returns true.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, bool>? AllowlistPredicate { get; set; }

    /// <summary>
    /// Gets the path rules for endpoints that carry no policy, e.g. <c>POST:/api/webhook/incoming</c> 60 per minute per
    /// client IP, <c>GET:/api/v1/mailbox/*</c> 100 per minute, and a <c>*</c> fallback. Several items with the same
    /// <see cref="EmailGuardPathRule.Endpoint"/> form one rule with several limits.
    /// </summary>
    public IList<EmailGuardPathRule> PathRules { get; } = new List<EmailGuardPathRule>();

    /// <summary>
    /// Gets the endpoints, in the path-rule syntax (<c>GET:/health</c>, <c>*:/ws/*</c>), that path rules never apply
    /// to, such as WebSockets and health checks. Endpoint policies still apply to them.
    /// </summary>
    public IList<string> PathRuleAllowlist { get; } = new List<string>();

    /// <summary>Gets or sets what path rules do when the store cannot be reached in time.</summary>
    /// <value>The default value is <see cref="StoreFailureMode.FailOpen"/>.</value>
    public StoreFailureMode PathRuleFailureMode { get; set; } = StoreFailureMode.FailOpen;

    /// <summary>
    /// Gets the defenses of endpoint policies by policy name (escalating bans, surge breaker, challenge mode), for
    /// configuration: <c>EmailGuard:Endpoints:PolicyDefenses:signup:EscalatingBan:MaxDenials</c>. Configuration wins
    /// over the policy builder's choice setting by setting: a setting it leaves out keeps the builder's value.
    /// </summary>
    public IDictionary<string, EmailGuardPolicyDefenseOptions> PolicyDefenses { get; } = new Dictionary<string, EmailGuardPolicyDefenseOptions>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets how often each instance rereads the client-network deny and allow lists
    /// (<see cref="EmailGuardPartyType.ClientNetwork"/> entries of <see cref="IEmailGuardLists"/>) from the state store.
    /// An entry written through this instance's <see cref="IEmailGuardLists"/> applies here from the next request
    /// (<see cref="IEmailGuardLists.GetChangeToken"/>); this interval bounds how late other instances' writes arrive.
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan ClientNetworkListRefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets a callback raised when a client network is banned from a policy (event 1800).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardBanStartedArguments, ValueTask>? OnBanStarted { get; set; }

    /// <summary>Gets or sets a callback raised by the instance that trips a policy's surge breaker (event 1802).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardSurgeBreakerArguments, ValueTask>? OnSurgeBreakerTripped { get; set; }

    /// <summary>Gets or sets a callback raised by the instance that tripped a surge breaker when it sees it recovered (event 1803).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardSurgeBreakerArguments, ValueTask>? OnSurgeBreakerRecovered { get; set; }

    /// <summary>
    /// Gets the endpoint policies described by settings, by name, for configuration:
    /// <c>EmailGuard:Endpoints:Policies:signup:Partitions:0:Rules:0:Limit</c>. <c>RequireEmailRateLimit("signup")</c> and
    /// <see cref="EmailRateLimitAttribute"/> name them as they name a policy from <see cref="AddPolicy"/>. A name may be
    /// given here or to <see cref="AddPolicy"/>, not both: the app then fails at startup, since neither a merge nor one
    /// side winning would say which limits were meant.
    /// </summary>
    public IDictionary<string, EmailGuardPolicyOptions> Policies { get; } = new Dictionary<string, EmailGuardPolicyOptions>(StringComparer.Ordinal);

    /// <summary>The policies added in code with <see cref="AddPolicy"/>.</summary>
    internal IReadOnlyDictionary<string, EmailRateLimitPolicyBuilder> PolicyBuilders => _policies;

    /// <summary>Adds a named policy, referenced by <c>RequireEmailRateLimit</c> and <see cref="EmailRateLimitAttribute"/>.</summary>
    /// <param name="name">The policy name, compared case-sensitively.</param>
    /// <param name="configure">Adds the policy's partitions and rules.</param>
    /// <returns>These options.</returns>
    /// <exception cref="ArgumentException">A policy with this name already exists.</exception>
    public EmailGuardEndpointOptions AddPolicy(string name, Action<EmailRateLimitPolicyBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (_policies.ContainsKey(name))
        {
            throw new ArgumentException($"An EmailGuard endpoint policy named '{name}' already exists.", nameof(name));
        }

        var builder = new EmailRateLimitPolicyBuilder(name);
        configure(builder);
        _policies.Add(name, builder);
        return this;
    }
}
