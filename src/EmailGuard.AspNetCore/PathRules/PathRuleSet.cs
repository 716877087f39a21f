using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;

namespace EmailGuard.AspNetCore;

/// <summary>Path rules and the allowlist compiled from options, most specific first.</summary>
internal sealed partial class PathRuleSet
{
    public static readonly PathRuleSet Empty = new([], [], []);

    /// <summary>What <see cref="MatchPath"/> answers for a request an allowlist entry exempts.</summary>
    private const int Allowlisted = -2;

    private readonly (PathPattern Pattern, EmailRateLimitPolicy Policy)[] _rules;
    private readonly PathPattern[] _allowlist;

    /// <summary>The settings each rule was written in (<c>EmailGuard:Endpoints:PathRules:0</c>), one or more per rule.</summary>
    private readonly string[][] _settings;
    private readonly bool _hasExactRules;

    /// <summary>The methods that exact rules name and that may act (POST, PUT, …), each once: see <see cref="Match"/>.</summary>
    private readonly string[] _actionRuleMethods;

    /// <summary>
    /// The bindings of the app's endpoints as they are now (<see cref="BindingCache"/>): replaced, empty, when the app's
    /// endpoints change, and a reload builds a new set with none.
    /// </summary>
    private volatile BindingCache? _cache;
    private readonly Func<Endpoint, BindingCache, EndpointBindings> _bind;

    private PathRuleSet((PathPattern, EmailRateLimitPolicy)[] rules, PathPattern[] allowlist, string[][] settings)
    {
        _rules = rules;
        _allowlist = allowlist;
        _settings = settings;
        _hasExactRules = rules.Any(static r => !r.Item1.HasWildcardPath);
        _actionRuleMethods = [.. rules.Where(static r => !r.Item1.HasWildcardPath && r.Item1.Method is { } m && !HttpMethodList.IsSafe(m))
            .Select(static r => r.Item1.Method!).Distinct(StringComparer.OrdinalIgnoreCase)];
        _bind = Bind;
    }

    public bool IsEmpty => _rules.Length == 0;

    /// <summary>
    /// As <see cref="EndpointGuardState.KeepUncountedOf"/>, for the path rules: a rule of the same pattern (its name,
    /// <c>POST:/api/webhook</c>) keeps what the one before a reload noted of its uncounted requests.
    /// </summary>
    public void KeepUncountedOf(PathRuleSet previous)
    {
        foreach ((_, EmailRateLimitPolicy policy) in _rules)
        {
            foreach ((_, EmailRateLimitPolicy before) in previous._rules)
            {
                if (string.Equals(before.Name, policy.Name, StringComparison.Ordinal))
                {
                    policy.KeepUncountedOf(before);
                    break;
                }
            }
        }
    }

    public int Count => _rules.Length;

    /// <summary>Gets whether an enforced path rule counts per client IP or network.</summary>
    public bool HasClientIpPartition => _rules.Any(static r => r.Policy is { HasClientIpPartition: true, ShadowMode: false });

    /// <summary>
    /// The rule for the request at <paramref name="endpoint"/> as the middleware decides it, and as the check of an endpoint
    /// routed after the middleware (<see cref="ReroutedEndpointMatcherPolicy"/>) must decide it too: by the method
    /// routing chose the endpoint for (<paramref name="routed"/>, worked out here when not yet, with
    /// <paramref name="changed"/>), exact paths only at EmailGuard's own feedback webhooks; none when there are no rules.
    /// </summary>
    public EmailRateLimitPolicy? MatchAt(HttpContext context, Endpoint? endpoint, ref string? routed, ref bool changed)
        => IsEmpty ? null : Match(
            context, endpoint, routed ??= RoutedMethod.Of(context, endpoint, out changed), context.Request.Path.Value,
            exactPathsOnly: endpoint?.Metadata.GetMetadata<FeedbackWebhookMetadata>() is not null);

    /// <summary>
    /// The rule for a request: the most specific one that matches its path, or that names a path routing sends to the
    /// request's endpoint with the route values the request has. A route often serves more paths than the one a rule
    /// names: MVC's conventional <c>{controller=Home}/{action=Index}/{id?}</c> serves <c>POST:/account/signup</c> at
    /// <c>/account/signup/1</c>, <c>/account/signup/2</c>… too; a rule on the path alone let each of them through
    /// unlimited, or under the fallback only. When neither finds an exact rule, an exact rule on another route of the
    /// same action applies: an action with <c>[HttpPost("signup")]</c> and <c>[HttpPost("register")]</c>, or a handler
    /// mapped twice, is one endpoint per route, and a rule on <c>POST:/signup</c> alone left <c>/register</c> to the bot.
    /// A dynamic route (<c>MapDynamicControllerRoute</c>) reaches an action through an endpoint with no route of its own,
    /// and the rules of the action's routes apply there too.
    /// </summary>
    /// <param name="context">The request, after routing.</param>
    /// <param name="endpoint">The request's endpoint, or <see langword="null"/> for a request that reached none.</param>
    /// <param name="method">The method routing matched the request's endpoint by (<see cref="RoutedMethod"/>).</param>
    /// <param name="path">The request's path below its base (<see cref="HttpRequest.Path"/>).</param>
    /// <param name="exactPathsOnly">
    /// Whether only rules whose path holds no wildcard apply, as for EmailGuard's own feedback webhooks. A rule with an
    /// exact path always has more literal segments than a wildcard rule matching the same path, so it is found first anyway.
    /// </param>
    private EmailRateLimitPolicy? Match(HttpContext context, Endpoint? endpoint, string method, string? path, bool exactPathsOnly)
    {
        int index = Find(context, endpoint, method, path, exactPathsOnly);
        if (index == Allowlisted)
        {
            return null;
        }

        if ((index < 0 || _rules[index].Pattern.HasWildcardPath) && _actionRuleMethods.Length != 0 && endpoint is not null
            && HttpMethodCoverage.SameActionAt(endpoint.Metadata, _actionRuleMethods, method))
        {
            // An endpoint that takes every method (app.Map, an MVC action without a verb attribute) runs the same
            // handler for PUT, PATCH, DELETE or a made-up method as for the POST a rule names: matched on the method
            // alone, each of them passed the rule (under a wildcard rule or none). An exact rule for another such
            // method on the path applies then, as a rule on another route of an action does: it replaces a wildcard
            // rule or none, never an exact rule for the request's own method.
            foreach (string ruleMethod in _actionRuleMethods)
            {
                if (string.Equals(ruleMethod, method, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                int other = Find(context, endpoint, ruleMethod, path, exactPathsOnly);
                if (other >= 0 && !_rules[other].Pattern.HasWildcardPath && (index < 0 || _rules[index].Pattern.HasWildcardPath || other < index))
                {
                    index = other;
                }
            }
        }

        return index < 0 ? null : _rules[index].Policy;
    }

    /// <summary>The rule for the request as if it had <paramref name="method"/>: its path, then its endpoint's bindings; or <see cref="Allowlisted"/>.</summary>
    private int Find(HttpContext context, Endpoint? endpoint, string method, string? path, bool exactPathsOnly)
    {
        int index = MatchPath(method, path, exactPathsOnly);
        if (index == Allowlisted)
        {
            return Allowlisted;
        }

        // No endpoint, or only a fallback route's (MapFallback), which a branch before the endpoints runs ahead of.
        if (_hasExactRules && (endpoint is null or RouteEndpoint { Order: int.MaxValue }) && !HttpMethodList.IsSafe(method))
        {
            index = MatchBelow(method, path, index);
        }

        if (_hasExactRules && endpoint is not null
            && (endpoint is RouteEndpoint || endpoint.Metadata.GetMetadata<ActionDescriptor>() is not null))
        {
            BindingCache cache = CurrentBindings(context.RequestServices);
            EndpointBindings bindings = cache.Bindings.GetOrAdd(endpoint, _bind, cache);
            int bound = FirstAgreeing(bindings.Own, index < 0 ? _rules.Length : index, method, context.Request);
            index = bound >= 0 ? bound : index;

            // A rule on another route of the action replaces a wildcard rule or none, never an exact rule of the
            // request's own route: each route of an action may have its own rule.
            if (index < 0 || _rules[index].Pattern.HasWildcardPath)
            {
                bound = FirstAgreeing(bindings.OtherRoutes, _rules.Length, method, context.Request);
                index = bound >= 0 ? bound : index;
            }
        }

        return index;
    }

    /// <summary>The first binding, most specific first and before rule <paramref name="before"/>, that the request agrees with.</summary>
    private int FirstAgreeing(RouteBinding[] bindings, int before, string method, HttpRequest request)
    {
        foreach (RouteBinding binding in bindings)
        {
            if (binding.Rule >= before)
            {
                break;
            }

            if (HttpMethodCoverage.Covers(_rules[binding.Rule].Pattern.Method, method) && binding.Agrees(request))
            {
                return binding.Rule;
            }
        }

        return -1;
    }

    private int MatchPath(string method, string? path, bool exactPathsOnly)
    {
        foreach (PathPattern allowed in _allowlist)
        {
            if (allowed.Matches(method, path))
            {
                return Allowlisted;
            }
        }

        for (int i = 0; i < _rules.Length; i++)
        {
            // A rule naming a page handler applies through the page's routes only (Bind), where the handler is known.
            PathPattern pattern = _rules[i].Pattern;
            if (pattern.Handler is null && (!exactPathsOnly || !pattern.HasWildcardPath) && pattern.Matches(method, path, foldSegments: true))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The rules whose path begins with <paramref name="pathBase"/> (<see cref="PathPattern.StartsWithBase"/>), each with
    /// the pattern that says what it meant.
    /// </summary>
    /// <param name="pathBase">The request's <c>PathBase</c>, non-empty.</param>
    public IEnumerable<(string Rule, string WithoutBase)> RulesWrittenWithBase(string pathBase)
    {
        int baseSegments = pathBase.Split('/', StringSplitOptions.RemoveEmptyEntries).Length;
        return _rules.Where(r => r.Pattern.StartsWithBase(pathBase)).Select(r => (r.Pattern.Text, r.Pattern.WithoutBase(baseSegments)));
    }

    /// <summary>Compiles the rules, or says which setting is wrong.</summary>
    public static PathRuleSet Create(EmailGuardEndpointOptions options, List<string> errors)
    {
        // The binder turns any number into the enum; left to WithFailureMode it would throw an ArgumentException that
        // names no setting, and on a reload it would escape into the configuration provider's change callback.
        if (!Enum.IsDefined(options.PathRuleFailureMode))
        {
            errors.Add($"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRuleFailureMode is not FailOpen, FailClosed or LocalFallback.");
        }

        var groups = new List<(PathPattern Pattern, EmailRateLimitPolicyBuilder Builder, Dictionary<(PathRulePartitionKind Kind, int IPv4, int IPv6), List<RateLimitRule>> Rules, List<string> Settings)>();
        for (int i = 0; i < options.PathRules.Count; i++)
        {
            EmailGuardPathRule item = options.PathRules[i];
            string setting = string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRules:{StrictConfiguration.ItemKey(options.PathRules, i)}");
            if (item is null)
            {
                errors.Add($"{setting} is empty.");
                continue;
            }

            if (!PathPattern.TryParse(item.Endpoint, out PathPattern? pattern, out string? error))
            {
                errors.Add($"{setting}:Endpoint: {error}.");
                continue;
            }

            // The core package's rule check, so a path rule's Limit, Window, Algorithm or Segments fails with the same sentence
            // as a send-guard rule's, naming the setting, instead of .NET's argument exception text with its parameter name.
            var ruleOptions = new RateLimitRuleOptions { Limit = item.Limit, Window = item.Window, Algorithm = item.Algorithm, Segments = item.Segments };
            if (ruleOptions.Validate(setting) is { } invalid)
            {
                errors.Add(invalid);
                continue;
            }

            RateLimitRule rule = ruleOptions.ToRule();

            if (!Enum.IsDefined(item.PartitionBy))
            {
                errors.Add($"{setting}:PartitionBy is not ClientIp, Global or ClientNetwork.");
                continue;
            }

            if (!TryGetNetwork(item, setting, errors, out (PathRulePartitionKind, int, int) partitionBy))
            {
                continue;
            }

            int index = groups.FindIndex(g => string.Equals(g.Pattern.Text, pattern!.Text, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                groups.Add((pattern!, CreateBuilder(pattern!.Text), [], []));
                index = groups.Count - 1;
            }

            groups[index].Settings.Add(setting);

            Dictionary<(PathRulePartitionKind, int, int), List<RateLimitRule>> byPartition = groups[index].Rules;
            if (!byPartition.TryGetValue(partitionBy, out List<RateLimitRule>? rules))
            {
                byPartition[partitionBy] = rules = [];
            }

            rules.Add(rule);
        }

        var allowlist = new List<PathPattern>();
        for (int i = 0; i < options.PathRuleAllowlist.Count; i++)
        {
            // An entry exempts the path, every handler of a page there; one naming a handler would exempt them all too.
            if (!PathPattern.TryParse(options.PathRuleAllowlist[i], out PathPattern? pattern, out string? error) || pattern!.Handler is not null)
            {
                error ??= $"'{pattern!.Text}' names a page handler, but an allowlist entry matches the path alone, every handler of the page; write the path, or put [DisableEmailRateLimit] on the handler";
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRuleAllowlist:{StrictConfiguration.ItemKey(options.PathRuleAllowlist, i)}: {error}."));
                continue;
            }

            allowlist.Add(pattern!);
        }

        if (errors.Count > 0)
        {
            return Empty;
        }

        var compiled = new List<(PathPattern Pattern, EmailRateLimitPolicy Policy, string[] Settings)>();
        foreach ((PathPattern pattern, EmailRateLimitPolicyBuilder builder, Dictionary<(PathRulePartitionKind, int, int), List<RateLimitRule>> rules, List<string> settings) in groups)
        {
            foreach (((PathRulePartitionKind kind, int ipv4, int ipv6), List<RateLimitRule> partitionRules) in rules)
            {
                _ = kind switch
                {
                    PathRulePartitionKind.ClientIp => builder.PerClientIp([.. partitionRules]),
                    PathRulePartitionKind.ClientNetwork => builder.PerClientNetwork(ipv4, ipv6, [.. partitionRules]),
                    _ => builder.PerKey("global", static _ => "all", [.. partitionRules]),
                };
            }

            builder.WithFailureMode(options.PathRuleFailureMode);
            compiled.Add((pattern, new EmailRateLimitPolicy(builder, options.QuotaHeadersOnAllowedResponses, "r"), [.. settings]));
        }

        SharedCounterCheck.Find(compiled.Select(static c => c.Policy), $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRules", "path rules", errors);
        if (errors.Count > 0)
        {
            return Empty;
        }

        // OrderBy is stable, so equally specific rules keep the order the configuration gives them.
        var ordered = compiled.OrderBy(c => c.Pattern, Comparer<PathPattern>.Create(PathPattern.CompareSpecificity)).ToArray();
        return new PathRuleSet([.. ordered.Select(static c => (c.Pattern, c.Policy))], [.. allowlist], [.. ordered.Select(static c => c.Settings)]);
    }

    private static EmailRateLimitPolicyBuilder CreateBuilder(string name) => new(name);

    /// <summary>
    /// The partition a rule counts in: its kind, and for a client network its prefix lengths (24 and 48 unless set).
    /// Prefix lengths out of range, or set on a rule that does not count per network (where they would be ignored), fail.
    /// </summary>
    private static bool TryGetNetwork(EmailGuardPathRule item, string setting, List<string> errors, out (PathRulePartitionKind Kind, int IPv4, int IPv6) partition)
    {
        partition = (item.PartitionBy, 0, 0);
        if (item.PartitionBy != PathRulePartitionKind.ClientNetwork)
        {
            foreach ((string name, int? value) in new[] { ("IPv4PrefixLength", item.IPv4PrefixLength), ("IPv6PrefixLength", item.IPv6PrefixLength) })
            {
                if (value is not null)
                {
                    errors.Add($"{setting}:{name} applies only to PartitionBy ClientNetwork; this rule is counted by {item.PartitionBy}.");
                }
            }

            return item.IPv4PrefixLength is null && item.IPv6PrefixLength is null;
        }

        int ipv4 = item.IPv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength;
        int ipv6 = item.IPv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength;
        bool valid = true;
        if (ipv4 is < 1 or > 32)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{setting}:IPv4PrefixLength must be between 1 and 32; it is {ipv4}."));
            valid = false;
        }

        if (ipv6 is < 1 or > 128)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{setting}:IPv6PrefixLength must be between 1 and 128; it is {ipv6}."));
            valid = false;
        }

        partition = (PathRulePartitionKind.ClientNetwork, ipv4, ipv6);
        return valid;
    }
}
