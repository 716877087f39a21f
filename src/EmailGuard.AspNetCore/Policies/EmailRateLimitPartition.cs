using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>One partition of a policy with its rules, and everything the hot path needs precomputed.</summary>
internal sealed class EmailRateLimitPartition
{
    private string? _lastKey;

    public EmailRateLimitPartition(PartitionKind kind, string? name, Func<HttpContext, string?>? resolver, RateLimitRule[] rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (rules.Length == 0)
        {
            throw new ArgumentException("A partition needs at least one rule.", nameof(rules));
        }

        foreach (RateLimitRule rule in rules)
        {
            ArgumentNullException.ThrowIfNull(rule, nameof(rules));
        }

        Kind = kind;
        Name = name;
        Resolver = resolver;

        // Rules of one shape share a counter: twice in one acquire (a path rule given in code and in configuration,
        // a policy helper run twice) they would count each request twice. The stricter limit stays.
        Rules = StrictestPerShape(rules);
    }

    public PartitionKind Kind { get; }

    /// <summary>For <see cref="PartitionKind.ClientNetwork"/>: the IPv4 prefix length clients are grouped by.</summary>
    public int IPv4PrefixLength { get; init; }

    /// <summary>For <see cref="PartitionKind.ClientNetwork"/>: the IPv6 prefix length clients are grouped by.</summary>
    public int IPv6PrefixLength { get; init; }

    /// <summary>
    /// The field, route value, claim, header or custom key name; the prefix lengths of a client network
    /// (<c>v4.24-v6.48</c>); null for client IP and user.
    /// </summary>
    public string? Name { get; }

    public Func<HttpContext, string?>? Resolver { get; }

    /// <summary>
    /// For a partition whose value may come in several copies (a header sent more than once): every copy, so that each
    /// distinct one is counted; null for the others, which <see cref="Resolver"/> alone reads.
    /// </summary>
    public Func<HttpContext, Microsoft.Extensions.Primitives.StringValues>? Copies { get; init; }

    /// <summary>For a tenant partition: the claim type or header its value is read from; null for a custom resolver.</summary>
    public string? Source { get; init; }

    /// <summary>What the partition counts by, for the operator's logs: <c>tenant header 'X-Tenant'</c>, <c>user</c>.</summary>
    public string Description => Kind switch
    {
        PartitionKind.ClientIp => "client IP",
        PartitionKind.ClientNetwork => $"client network {Name}",
        PartitionKind.User => "user",
        PartitionKind.Tenant when Source is not null => $"tenant {Name} '{Source}'",
        PartitionKind.Tenant => "tenant",
        PartitionKind.Field => $"field '{Name}'",
        PartitionKind.RouteValue => $"route value '{Name}'",
        _ => $"key '{Name}'",
    };

    /// <summary>For partitions with a <see cref="Resolver"/>: which spellings of a resolved value share a counter.</summary>
    public PartitionValueComparison Comparison { get; init; }

    /// <summary>
    /// The value <paramref name="resolved"/> counts under: folded per <see cref="Comparison"/>, and for a route value
    /// one spelling per number or GUID.
    /// </summary>
    public string CanonicalValue(string resolved)
    {
        string folded = PartitionValueKey.Fold(resolved, Comparison);
        return Kind == PartitionKind.RouteValue ? RouteValueKey.Canonical(folded)! : folded;
    }

    public RateLimitRule[] Rules { get; }

    /// <summary>The counter key prefix, set when the policy is compiled, e.g. <c>eg:ep:signup:ip:</c>.</summary>
    public string KeyPrefix { get; private set; } = string.Empty;

    /// <summary>One structured-field item per rule for the <c>RateLimit-Policy</c> header.</summary>
    public string[] PolicyItems { get; private set; } = [];

    /// <summary>One quoted item name per rule for the <c>RateLimit</c> header.</summary>
    public string[] ItemNames { get; private set; } = [];

    /// <summary>
    /// The counter key of <paramref name="value"/>: <see cref="KeyPrefix"/> and the value, reusing the key built last
    /// when the value is the same, as it is for every request of one client's flood.
    /// </summary>
    public string KeyFor(string value)
    {
        string prefix = KeyPrefix;
        string? last = _lastKey;
        if (last is not null && last.Length == prefix.Length + value.Length
            && last.AsSpan(prefix.Length).SequenceEqual(value) && last.StartsWith(prefix, StringComparison.Ordinal))
        {
            return last;
        }

        last = string.Concat(prefix, value);
        _lastKey = last;
        return last;
    }

    /// <summary>
    /// The counter key of a resolved value: <see cref="KeyPrefix"/> and the value as <see cref="CanonicalValue"/> folds it,
    /// encoded for the store. A header's copies are keyed by it as its single value is, so a copy counts where the same
    /// value sent alone would.
    /// </summary>
    public string ValueKey(string value) => string.Concat(KeyPrefix, StoreKeyEncoding.EncodeValue(CanonicalValue(value)));

    /// <summary>One cached <c>RateLimit</c> value of a denial per rule.</summary>
    public DeniedQuotaHeader[] DeniedHeaders { get; private set; } = [];

    public string KindTag => Kind switch
    {
        PartitionKind.ClientIp => "ip",
        PartitionKind.ClientNetwork => "net",
        PartitionKind.User => "user",
        PartitionKind.Tenant => "tenant",
        PartitionKind.Field => "field",
        PartitionKind.RouteValue => "route",
        _ => "key",
    };

    /// <param name="keyScope">Separates policies from path rules in counter keys, e.g. <c>p.signup</c>.</param>
    /// <param name="displayName">The policy or path rule as clients see it in headers.</param>
    internal void Compile(string keyScope, string displayName)
    {
        string label = Name is null ? KindTag : $"{KindTag}-{Sanitize(Name)}";
        KeyPrefix = $"eg:ep:{Sanitize(keyScope)}:{label}:";
        ItemNames = new string[Rules.Length];
        PolicyItems = new string[Rules.Length];
        DeniedHeaders = new DeniedQuotaHeader[Rules.Length];
        for (int i = 0; i < Rules.Length; i++)
        {
            RateLimitRule rule = Rules[i];
            long seconds = Math.Max(1, (long)Math.Ceiling(rule.Window.TotalSeconds));
            ItemNames[i] = string.Create(CultureInfo.InvariantCulture, $"\"{Sanitize(displayName)}.{label}.{seconds}s\"");
            PolicyItems[i] = string.Create(CultureInfo.InvariantCulture, $"{ItemNames[i]};q={rule.Limit};w={seconds}");
            DeniedHeaders[i] = new DeniedQuotaHeader();
        }
    }

    /// <summary>
    /// Keeps header item names inside the structured-field string grammar and counter keys free of separators an
    /// operator would misread.
    /// </summary>
    internal static string Sanitize(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '*' ? c : '_');
        }

        return builder.ToString();
    }

    /// <summary>
    /// One rule per shape, the stricter one. The send guard folds its rules the same way; the two stay separate
    /// because the send guard's rule table is internal to the core package.
    /// </summary>
    private static RateLimitRule[] StrictestPerShape(IEnumerable<RateLimitRule> rules)
    {
        List<RateLimitRule> result = [];
        foreach (RateLimitRule rule in rules)
        {
            int same = result.FindIndex(r => r.HasSameShape(rule));
            if (same < 0)
            {
                result.Add(rule);
            }
            else if (rule.Limit < result[same].Limit)
            {
                result[same] = rule;
            }
        }

        return [.. result];
    }
}
