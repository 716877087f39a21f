using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>Path rules and the allowlist compiled from options, most specific first.</summary>
internal sealed class PathRuleSet
{
    public static readonly PathRuleSet Empty = new([], []);

    /// <summary>What <see cref="MatchPath"/> answers for a request an allowlist entry exempts.</summary>
    private const int Allowlisted = -2;

    private readonly (PathPattern Pattern, EmailRateLimitPolicy Policy)[] _rules;
    private readonly PathPattern[] _allowlist;
    private readonly bool _hasExactRules;

    /// <summary>
    /// The bindings of the app's endpoints as they are now (<see cref="BindingCache"/>): replaced, empty, when the app's
    /// endpoints change, and a reload builds a new set with none.
    /// </summary>
    private volatile BindingCache? _cache;
    private readonly Func<Endpoint, BindingCache, EndpointBindings> _bind;

    private PathRuleSet((PathPattern, EmailRateLimitPolicy)[] rules, PathPattern[] allowlist)
    {
        _rules = rules;
        _allowlist = allowlist;
        _hasExactRules = rules.Any(static r => !r.Item1.HasWildcardPath);
        _bind = Bind;
    }

    public bool IsEmpty => _rules.Length == 0;

    public int Count => _rules.Length;

    /// <summary>Gets whether an enforced path rule counts per client IP or network.</summary>
    public bool HasClientIpPartition => _rules.Any(static r => r.Policy is { HasClientIpPartition: true, ShadowMode: false });

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
    /// <param name="exactPathsOnly">
    /// Whether only rules whose path holds no wildcard apply, as for EmailGuard's own feedback webhooks. A rule with an
    /// exact path always has more literal segments than a wildcard rule matching the same path, so it is found first anyway.
    /// </param>
    public EmailRateLimitPolicy? Match(HttpContext context, bool exactPathsOnly)
    {
        string method = context.Request.Method;
        int index = MatchPath(method, context.Request.Path.Value, exactPathsOnly);
        if (index == Allowlisted)
        {
            return null;
        }

        if (_hasExactRules && context.GetEndpoint() is { } endpoint
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

        return index < 0 ? null : _rules[index].Policy;
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
            PathPattern pattern = _rules[i].Pattern;
            if ((!exactPathsOnly || !pattern.HasWildcardPath) && pattern.Matches(method, path, foldSegments: true))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The bindings cached for the app's endpoints as they are now. Endpoints can change after the first request (a
    /// plugin that maps routes later, dynamic endpoints, any <see cref="EndpointDataSource"/> whose change token fires),
    /// and a binding made before would leave a route added to an action, or a rule on it, out of the action's other
    /// routes. As routing's own matcher does, the bindings are made again once the data source's change token fires; the
    /// token is read here rather than given a callback, so a rule set that a reload replaces leaves nothing registered.
    /// </summary>
    /// <param name="services">The request's services, where routing keeps the app's endpoints; none on a bare context.</param>
    private BindingCache CurrentBindings(IServiceProvider? services)
    {
        BindingCache? cache = _cache;
        if (cache?.Changed is { HasChanged: false })
        {
            return cache;
        }

        // The first request, the endpoints changed, or there was no data source (a bare context).
        EndpointDataSource? source = cache?.Source ?? services?.GetService<EndpointDataSource>();
        if (cache is not null && source is null)
        {
            return cache;
        }

        // Requests that saw the change at once each make a cache; one is kept, and the others use it.
        var fresh = new BindingCache(source);
        BindingCache? seen = Interlocked.CompareExchange(ref _cache, fresh, cache);
        return ReferenceEquals(seen, cache) ? fresh : seen!;
    }

    /// <summary>
    /// The exact rules bound to <paramref name="endpoint"/>'s own route, and those bound to the other routes of its action
    /// among the app's endpoints, each most specific first.
    /// </summary>
    /// <param name="endpoint">The endpoint a request reached.</param>
    /// <param name="cache">The cache the bindings go in, and the app's endpoints it was made for.</param>
    private EndpointBindings Bind(Endpoint endpoint, BindingCache cache)
    {
        // An action a dynamic route picks per request is reached through one of MVC's endpoints with no route (inert
        // endpoints, one per action): it has no route of its own to bind, only the action's routes.
        RouteBinding[] own = endpoint is RouteEndpoint route ? BindRoute(route, route) : [];
        if (ActionIdentity.Of(endpoint) is not { } action || cache.Source is not { } source)
        {
            return new EndpointBindings(own, []);
        }

        List<RouteBinding> others = [];
        foreach (Endpoint other in source.Endpoints)
        {
            // A page's request reaches the compiled page's endpoint, not the data source's for its route; binding that
            // route again among the others binds what the request's own route has bound first, and adds nothing.
            if (other is RouteEndpoint otherRoute && !ReferenceEquals(otherRoute, endpoint) && action.Equals(ActionIdentity.Of(otherRoute)))
            {
                others.AddRange(BindRoute(otherRoute, endpoint));
            }
        }

        // OrderBy is stable: a rule bound to two routes of the action keeps both bindings, in the order of the routes.
        return new EndpointBindings(own, [.. others.OrderBy(static b => b.Rule)]);
    }

    /// <summary>
    /// The exact rules whose path <paramref name="route"/>'s pattern matches, most specific first, each with the route
    /// values that path gives there that <paramref name="endpoint"/>'s route has too: a value only one of the two routes
    /// has says nothing about a request to the other. An endpoint with no route (a dynamic route's) has the values its
    /// transformer gives each request: those are compared, and a value it does not give is not.
    /// </summary>
    private RouteBinding[] BindRoute(RouteEndpoint route, Endpoint endpoint)
    {
        TemplateMatcher matcher;
        try
        {
            matcher = new TemplateMatcher(new RouteTemplate(route.RoutePattern), new RouteValueDictionary(route.RoutePattern.Defaults));
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // A pattern the template matcher does not take is left to the path alone, rather than failing the request.
            return [];
        }

        bool page = endpoint.Metadata.GetMetadata<PageActionDescriptor>() is not null;
        List<RouteBinding>? bindings = null;
        for (int i = 0; i < _rules.Length; i++)
        {
            PathPattern pattern = _rules[i].Pattern;
            var values = new RouteValueDictionary();
            if (!pattern.HasWildcardPath && matcher.TryMatch(pattern.LiteralPath, values))
            {
                (bindings ??= []).Add(new RouteBinding(
                    i,
                    [.. values.Where(v => HasValue(endpoint, v.Key)).Select(static v => RouteBinding.Expect(v.Key, v.Value))],
                    absentAgrees: endpoint is not RouteEndpoint,
                    page));
            }
        }

        return bindings?.ToArray() ?? [];
    }

    private static bool HasValue(Endpoint endpoint, string key) =>
        endpoint is not RouteEndpoint route
        || route.RoutePattern.GetParameter(key) is not null
        || route.RoutePattern.Defaults.ContainsKey(key)
        || route.RoutePattern.RequiredValues.ContainsKey(key);

    /// <summary>
    /// The bindings made for the app's endpoints as the data source gave them after <see cref="Changed"/> was read, so
    /// that a change after that fires it. An app has a bounded set of endpoints; a change drops the whole cache, and the
    /// endpoints it replaced with it.
    /// </summary>
    private sealed class BindingCache(EndpointDataSource? source)
    {
        public EndpointDataSource? Source { get; } = source;

        /// <summary>Gets the token that fires when the app's endpoints change, or <see langword="null"/> without a data source.</summary>
        public IChangeToken? Changed { get; } = source?.GetChangeToken();

        public ConcurrentDictionary<Endpoint, EndpointBindings> Bindings { get; } = new();
    }

    /// <summary>The rules bound to an endpoint's own route, and those bound to the other routes of its action.</summary>
    private sealed class EndpointBindings(RouteBinding[] own, RouteBinding[] otherRoutes)
    {
        public RouteBinding[] Own { get; } = own;

        public RouteBinding[] OtherRoutes { get; } = otherRoutes;
    }

    /// <summary>An exact rule bound to a route endpoint, and the route values its path gives there.</summary>
    /// <param name="rule">The rule's index.</param>
    /// <param name="values">The route values the rule's path gives.</param>
    /// <param name="absentAgrees">Whether a value the request does not have agrees (an endpoint with no route), or is empty.</param>
    /// <param name="page">Whether the endpoint is a Razor page's, whose handler a request names in its route or its query.</param>
    private sealed class RouteBinding(int rule, (string Key, string Value, string Folded)[] values, bool absentAgrees, bool page)
    {
        private const string PageHandler = "handler";

        public int Rule { get; } = rule;

        public static (string Key, string Value, string Folded) Expect(string key, object? value)
        {
            string text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
            return (key, text, PartitionValueKey.Fold(text, PartitionValueComparison.IgnoreCase));
        }

        /// <summary>
        /// Whether the request's route values are the rule's, compared as the rule's literal segments are: a value the
        /// rule's path does not give (an optional <c>{id?}</c> it leaves out) may be anything.
        /// </summary>
        public bool Agrees(HttpRequest request)
        {
            foreach ((string key, string value, string folded) in values)
            {
                string? actual = request.RouteValues.TryGetValue(key, out object? v) ? Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty : null;

                // Razor Pages runs the handler the query names when the route names none: a rule on /share/confirm of a
                // page at "{handler?}" is the handler that /share?handler=confirm runs too.
                if (page && string.IsNullOrEmpty(actual) && string.Equals(key, PageHandler, StringComparison.OrdinalIgnoreCase)
                    && request.Query.TryGetValue(PageHandler, out StringValues named))
                {
                    actual = named[0] ?? string.Empty;
                }

                if (actual is null)
                {
                    if (absentAgrees)
                    {
                        continue;
                    }

                    actual = string.Empty;
                }

                if (!string.Equals(actual, value, StringComparison.OrdinalIgnoreCase)
                    && !string.Equals(PartitionValueKey.Fold(actual, PartitionValueComparison.IgnoreCase), folded, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }
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

        var groups = new List<(PathPattern Pattern, EmailRateLimitPolicyBuilder Builder, Dictionary<(PathRulePartitionKind Kind, int IPv4, int IPv6), List<RateLimitRule>> Rules)>();
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
                groups.Add((pattern!, CreateBuilder(pattern!.Text), []));
                index = groups.Count - 1;
            }

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
            if (!PathPattern.TryParse(options.PathRuleAllowlist[i], out PathPattern? pattern, out string? error))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRuleAllowlist:{StrictConfiguration.ItemKey(options.PathRuleAllowlist, i)}: {error}."));
                continue;
            }

            allowlist.Add(pattern!);
        }

        if (errors.Count > 0)
        {
            return Empty;
        }

        var compiled = new List<(PathPattern, EmailRateLimitPolicy)>();
        foreach ((PathPattern pattern, EmailRateLimitPolicyBuilder builder, Dictionary<(PathRulePartitionKind, int, int), List<RateLimitRule>> rules) in groups)
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
            compiled.Add((pattern, new EmailRateLimitPolicy(builder, options.QuotaHeadersOnAllowedResponses, "r")));
        }

        // OrderBy is stable, so equally specific rules keep the order the configuration gives them.
        return new PathRuleSet([.. compiled.OrderBy(c => c.Item1, Comparer<PathPattern>.Create(PathPattern.CompareSpecificity))], [.. allowlist]);
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
