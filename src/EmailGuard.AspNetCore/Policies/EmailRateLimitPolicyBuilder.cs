using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Describes one endpoint policy: the partitions a request is counted in, each with its own rules. Every partition's
/// rules are acquired in one atomic store call, so a request is admitted by all of them or counted by none.
/// </summary>
/// <remarks>
/// A partition whose value a request does not carry (an anonymous user, a missing tenant, a custom key that returns
/// <see langword="null"/>) follows <see cref="WhenValueMissing"/>: by default it is left out for that request; a missing
/// body field follows <see cref="WhenFieldMissing"/>. A request that a policy counts in none of its partitions is
/// recorded (metric <c>emailguard.endpoint.uncounted_requests</c>, warning 3118).
/// </remarks>
public sealed partial class EmailRateLimitPolicyBuilder
{
    private readonly List<EmailRateLimitPartition> _partitions = [];

    internal EmailRateLimitPolicyBuilder(string name)
    {
        Name = name;
    }

    /// <summary>Gets the policy name.</summary>
    public string Name { get; }

    internal IReadOnlyList<EmailRateLimitPartition> Partitions => _partitions;

    internal EmailGuardPolicyDefenseOptions Defense { get; } = new();

    internal StoreFailureMode FailureMode { get; private set; } = StoreFailureMode.FailOpen;

    internal bool ShadowMode { get; private set; }

    internal bool? QuotaHeaders { get; private set; }

    internal MissingFieldBehavior MissingField { get; private set; } = MissingFieldBehavior.Reject;

    internal RepeatedFieldBehavior RepeatedField { get; private set; } = RepeatedFieldBehavior.Reject;

    internal MissingValueBehavior MissingValue { get; private set; } = MissingValueBehavior.Skip;

    /// <summary>
    /// Counts requests per client IP: <c>HttpContext.Connection.RemoteIpAddress</c> as the app's forwarded-headers
    /// setup leaves it, IPv6 grouped by <see cref="EmailGuardEndpointOptions.IPv6PrefixLength"/>.
    /// </summary>
    /// <param name="rules">The rules, e.g. 5 per minute and 100 per day.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerClientIp(params RateLimitRule[] rules)
        => Add(new(PartitionKind.ClientIp, null, null, rules));

    /// <summary>
    /// Counts requests per client network: every client in one IPv4 /<paramref name="ipv4PrefixLength"/> or one IPv6
    /// /<paramref name="ipv6PrefixLength"/> shares a counter. Add it beside <see cref="PerClientIp"/> with a higher
    /// limit, so that a bot holding a whole network (an IPv6 /48 has 65,536 /64s, a rented IPv4 /24 256 addresses)
    /// cannot multiply the per-IP limit by rotating through its addresses. The client address is the one
    /// <see cref="PerClientIp"/> counts, and a request without one follows <see cref="EmailGuardEndpointOptions.MissingClientIp"/>.
    /// A policy may count several networks (a /56 and a /48, say), each with its own prefix lengths.
    /// </summary>
    /// <param name="ipv4PrefixLength">The IPv4 prefix length, 1 to 32, e.g. 24.</param>
    /// <param name="ipv6PrefixLength">The IPv6 prefix length, 1 to 128, e.g. 48.</param>
    /// <param name="rules">The rules, e.g. 20 per 15 minutes for a network whose clients each get 1.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A prefix length is out of range.</exception>
    public EmailRateLimitPolicyBuilder PerClientNetwork(int ipv4PrefixLength, int ipv6PrefixLength, params RateLimitRule[] rules)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv4PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv4PrefixLength, 32);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv6PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv6PrefixLength, 128);
        string name = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"v4.{ipv4PrefixLength}-v6.{ipv6PrefixLength}");
        return Add(new(PartitionKind.ClientNetwork, name, null, rules) { IPv4PrefixLength = ipv4PrefixLength, IPv6PrefixLength = ipv6PrefixLength });
    }

    /// <summary>
    /// Counts requests per authenticated user (the <see cref="ClaimTypes.NameIdentifier"/> claim, else <c>sub</c>,
    /// else the identity name). Anonymous requests follow <see cref="WhenValueMissing"/>: by default they are not counted
    /// in this partition. Spellings of one user id that differ in case, width or white space share a counter
    /// (<see cref="PartitionValueComparison.IgnoreCase"/>).
    /// </summary>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerUser(params RateLimitRule[] rules)
        => PerUser(PartitionValueComparison.IgnoreCase, rules);

    /// <summary>As <see cref="PerUser(RateLimitRule[])"/>, with the spellings of a user id that share a counter.</summary>
    /// <param name="comparison"><see cref="PartitionValueComparison.CaseSensitive"/> for user ids the app compares case-sensitively.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerUser(PartitionValueComparison comparison, params RateLimitRule[] rules)
        => Add(new(PartitionKind.User, null, UserResolver.GetUserId, rules) { Comparison = Checked(comparison) });

    /// <summary>
    /// Counts requests per tenant, read from a claim of the authenticated user. Spellings of one tenant id that differ
    /// in case, width or white space share a counter (<see cref="PartitionValueComparison.IgnoreCase"/>).
    /// </summary>
    /// <param name="claimType">The claim type that holds the tenant id.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerTenantClaim(string claimType, params RateLimitRule[] rules)
        => PerTenantClaim(claimType, PartitionValueComparison.IgnoreCase, rules);

    /// <summary>As <see cref="PerTenantClaim(string, RateLimitRule[])"/>, with the spellings of a tenant id that share a counter.</summary>
    /// <param name="claimType">The claim type that holds the tenant id.</param>
    /// <param name="comparison"><see cref="PartitionValueComparison.CaseSensitive"/> for tenant ids the app compares case-sensitively.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerTenantClaim(string claimType, PartitionValueComparison comparison, params RateLimitRule[] rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(claimType);
        return Add(new(PartitionKind.Tenant, "claim", context => context.User.FindFirst(claimType)?.Value, rules) { Comparison = Checked(comparison), Source = claimType });
    }

    /// <summary>
    /// Counts requests per tenant, read from a request header. Only use a header that a trusted component sets
    /// (a gateway that authenticates the tenant): a client that sets it can pick a fresh tenant for every request.
    /// Spellings of one tenant id that differ in case, width or white space share a counter
    /// (<see cref="PartitionValueComparison.IgnoreCase"/>).
    /// </summary>
    /// <param name="headerName">The header that holds the tenant id.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerTenantHeader(string headerName, params RateLimitRule[] rules)
        => PerTenantHeader(headerName, PartitionValueComparison.IgnoreCase, rules);

    /// <summary>As <see cref="PerTenantHeader(string, RateLimitRule[])"/>, with the spellings of a tenant id that share a counter.</summary>
    /// <param name="headerName">The header that holds the tenant id.</param>
    /// <param name="comparison"><see cref="PartitionValueComparison.CaseSensitive"/> for tenant ids the app compares case-sensitively.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerTenantHeader(string headerName, PartitionValueComparison comparison, params RateLimitRule[] rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(headerName);
        return Add(new(PartitionKind.Tenant, "header", context => FirstValue(context.Request.Headers[headerName]), rules)
        {
            Comparison = Checked(comparison),
            Source = headerName,
            Copies = context => context.Request.Headers[headerName],
        });
    }

    /// <summary>
    /// Counts requests per tenant, as the app resolves it. Spellings of one tenant id that differ in case, width or
    /// white space share a counter (<see cref="PartitionValueComparison.IgnoreCase"/>).
    /// </summary>
    /// <param name="resolver">Returns the tenant id, or <see langword="null"/> when the request has none.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerTenant(Func<HttpContext, string?> resolver, params RateLimitRule[] rules)
        => PerTenant(resolver, PartitionValueComparison.IgnoreCase, rules);

    /// <summary>As <see cref="PerTenant(Func{HttpContext, string?}, RateLimitRule[])"/>, with the spellings of a tenant id that share a counter.</summary>
    /// <param name="resolver">Returns the tenant id, or <see langword="null"/> when the request has none.</param>
    /// <param name="comparison"><see cref="PartitionValueComparison.CaseSensitive"/> for tenant ids the app compares case-sensitively.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerTenant(Func<HttpContext, string?> resolver, PartitionValueComparison comparison, params RateLimitRule[] rules)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        return Add(new(PartitionKind.Tenant, "custom", resolver, rules) { Comparison = Checked(comparison) });
    }

    /// <summary>
    /// Counts requests per email address found where model binding finds it (the address a signup, password reset or
    /// share targets): a form field (also as <c>Input.Email</c>, <c>Input[Email]</c> or <c>email[0]</c>), a top-level JSON property, the
    /// query string or a route value. The address is normalized with the send guard's
    /// <see cref="SendGuardOptions.AddressNormalization"/> (case, width, Unicode full stops, IDN, plus-tags, provider
    /// aliases) and hashed before it becomes a key, so every spelling of one mailbox shares one counter. A value that
    /// is not a valid address is folded as far as it goes (<see cref="EmailAddressNormalizer.GetPartitionValue"/>).
    /// A request that carries the field more than once, or different addresses in different places, follows
    /// <see cref="WhenFieldRepeated"/>.
    /// </summary>
    /// <param name="fieldName">The field name, matched case-insensitively.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerField(string fieldName, params RateLimitRule[] rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fieldName);
        return Add(new(PartitionKind.Field, fieldName, null, rules));
    }

    /// <summary>
    /// Counts requests per value of a route parameter, e.g. the mailbox id in <c>/mailbox/{id}</c>. Spellings of one
    /// number or GUID share a counter (<c>42</c>, <c>042</c>, <c>+42</c>, <c>0x2A</c>; a GUID in any case or format), as
    /// model binding reads them alike; spellings of any other value that differ in case, width or white space share a
    /// counter too (<c>/users/Alice</c>, <c>/users/ALICE</c>, <c>/users/alice%20</c>: see
    /// <see cref="PartitionValueComparison.IgnoreCase"/>), as a case-insensitive lookup finds one user for them.
    /// </summary>
    /// <param name="routeValueName">The route parameter name.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerRouteValue(string routeValueName, params RateLimitRule[] rules)
        => PerRouteValue(routeValueName, PartitionValueComparison.IgnoreCase, rules);

    /// <summary>
    /// As <see cref="PerRouteValue(string, RateLimitRule[])"/>, with the spellings of a value that share a counter:
    /// <see cref="PartitionValueComparison.CaseSensitive"/> keeps values that differ only in case apart, for a route
    /// parameter the app compares case-sensitively (a token, a short link code). Spellings of one number or GUID share
    /// a counter either way.
    /// </summary>
    /// <param name="routeValueName">The route parameter name.</param>
    /// <param name="comparison">Which spellings of a value share a counter.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerRouteValue(string routeValueName, PartitionValueComparison comparison, params RateLimitRule[] rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(routeValueName);
        return Add(new(PartitionKind.RouteValue, routeValueName, context => Convert.ToString(context.Request.RouteValues[routeValueName], System.Globalization.CultureInfo.InvariantCulture), rules)
        {
            Comparison = Checked(comparison),
        });
    }

    /// <summary>
    /// Counts requests per key the app computes. Spellings of one key that differ in case, width or white space share
    /// a counter (<see cref="PartitionValueComparison.IgnoreCase"/>).
    /// </summary>
    /// <param name="name">A short name for the partition, unique within the policy; it separates its counters.</param>
    /// <param name="keySelector">Returns the key, or <see langword="null"/> to leave the partition out for this request.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder PerKey(string name, Func<HttpContext, string?> keySelector, params RateLimitRule[] rules)
        => PerKey(name, PartitionValueComparison.IgnoreCase, keySelector, rules);

    /// <summary>
    /// As <see cref="PerKey(string, Func{HttpContext, string?}, RateLimitRule[])"/>, with the spellings of a key that
    /// share a counter: <see cref="PartitionValueComparison.CaseSensitive"/> for keys the app compares case-sensitively
    /// (an API key, a base64 id).
    /// </summary>
    /// <param name="name">A short name for the partition, unique within the policy; it separates its counters.</param>
    /// <param name="comparison">Which spellings of a key share a counter.</param>
    /// <param name="keySelector">Returns the key, or <see langword="null"/> to leave the partition out for this request.</param>
    /// <param name="rules">The rules.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="comparison"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder PerKey(string name, PartitionValueComparison comparison, Func<HttpContext, string?> keySelector, params RateLimitRule[] rules)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(keySelector);
        return Add(new(PartitionKind.Custom, name, keySelector, rules) { Comparison = Checked(comparison) });
    }

    /// <summary>Sets what happens when the store cannot be reached in time.</summary>
    /// <param name="failureMode">The failure mode. The default is <see cref="StoreFailureMode.FailOpen"/>;
    /// <see cref="StoreFailureMode.FailClosed"/> answers 503 with <c>Retry-After</c>.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithFailureMode(StoreFailureMode failureMode)
    {
        if (!Enum.IsDefined(failureMode))
        {
            throw new ArgumentOutOfRangeException(nameof(failureMode), failureMode, "Unknown failure mode.");
        }

        FailureMode = failureMode;
        return this;
    }

    /// <summary>
    /// Puts the policy in shadow mode: requests are counted and would-be rejections logged and measured, but never
    /// blocked. Use it to size limits on live traffic before enforcing them.
    /// </summary>
    /// <param name="enabled">Whether shadow mode is on.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder InShadowMode(bool enabled = true)
    {
        ShadowMode = enabled;
        return this;
    }

    /// <summary>Adds (or, with <see langword="false"/>, suppresses) the <c>RateLimit</c> headers on allowed responses,
    /// overriding <see cref="EmailGuardEndpointOptions.QuotaHeadersOnAllowedResponses"/> for this policy.</summary>
    /// <param name="enabled">Whether allowed responses carry the quota headers.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WithQuotaHeaders(bool enabled = true)
    {
        QuotaHeaders = enabled;
        return this;
    }

    /// <summary>Sets what happens when a request lacks a body field a partition is keyed by.</summary>
    /// <param name="behavior">The behavior. The default is <see cref="MissingFieldBehavior.Reject"/>.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WhenFieldMissing(MissingFieldBehavior behavior)
    {
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown behavior.");
        }

        MissingField = behavior;
        return this;
    }

    /// <summary>
    /// Sets what happens when a request carries a field a partition is keyed by more than once, or carries different
    /// addresses in its body, query string and route.
    /// </summary>
    /// <param name="behavior">The behavior. The default is <see cref="RepeatedFieldBehavior.Reject"/>.</param>
    /// <returns>This builder.</returns>
    public EmailRateLimitPolicyBuilder WhenFieldRepeated(RepeatedFieldBehavior behavior)
    {
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown behavior.");
        }

        RepeatedField = behavior;
        return this;
    }

    /// <summary>
    /// Sets what happens when a request carries no value for a user, tenant, route value or custom key partition (an
    /// anonymous user, a tenant claim or header it lacks, a key selector that returns <see langword="null"/>). Left out,
    /// as by default, such a partition does not limit those requests: a policy that counts only per tenant header then
    /// admits every request without the header, and a client that leaves it out (or a gateway that drops it) passes
    /// the limit. <see cref="MissingValueBehavior.ShareOneBucket"/> counts all of them in one bucket of the partition;
    /// <see cref="MissingValueBehavior.Reject"/> answers them 400.
    /// </summary>
    /// <param name="behavior">The behavior. The default is <see cref="MissingValueBehavior.Skip"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="behavior"/> is not a defined value.</exception>
    public EmailRateLimitPolicyBuilder WhenValueMissing(MissingValueBehavior behavior)
    {
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown behavior.");
        }

        MissingValue = behavior;
        return this;
    }

    private EmailRateLimitPolicyBuilder Add(EmailRateLimitPartition partition)
    {
        _partitions.Add(partition);
        return this;
    }

    private static PartitionValueComparison Checked(PartitionValueComparison comparison)
        => Enum.IsDefined(comparison) ? comparison : throw new ArgumentOutOfRangeException(nameof(comparison), comparison, "Unknown partition value comparison.");

    private static string? FirstValue(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? null : values[0];
}
