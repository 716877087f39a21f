using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The exact rules that no endpoint of the app serves, found with the bindings requests use (<see cref="BindRoute"/>),
/// so that a rule the requests of an endpoint count under is never called unserved.
/// </summary>
internal sealed partial class PathRuleSet
{
    /// <summary>
    /// The exact rules that bind to no route of <paramref name="endpoints"/> that takes the rule's method, or, for a rule
    /// naming a page handler, to no page with that handler for the method: each limits nothing the app serves through
    /// an endpoint. Wildcard rules and the allowlist are not looked at: they are meant to match paths no route names.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    public List<UnservedPathRule> FindUnserved(IReadOnlyList<Endpoint> endpoints)
    {
        var served = new bool[_rules.Length];
        var otherMethods = new SortedSet<string>?[_rules.Length];
        var pages = new List<(string Page, (string HttpMethod, string? Name)[] Handlers)>?[_rules.Length];
        var candidates = new List<(IReadOnlyList<string>? Methods, string Path, bool Page)>();
        foreach (Endpoint endpoint in endpoints)
        {
            // A fallback route (MapFallback, MapFallbackToFile, MapFallbackToPage) serves every path no other route does:
            // counted as serving, it would hide every typo of an app with one. Routing never matches an endpoint that
            // suppresses matching (the one a conventional route adds for link generation, whose template takes any path).
            if (endpoint is not RouteEndpoint { Order: not int.MaxValue } route
                || endpoint.Metadata.GetMetadata<ISuppressMatchingMetadata>() is { SuppressMatching: true })
            {
                continue;
            }

            IHttpMethodMetadata? methodMetadata = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>();
            IReadOnlyList<string>? methods = methodMetadata?.HttpMethods is { Count: > 0 } taken ? taken : null;

            // An endpoint that accepts CORS preflight requests answers OPTIONS for its path too.
            if (methods is not null && methodMetadata!.AcceptCorsPreflight && !methods.Contains(HttpMethods.Options, StringComparer.OrdinalIgnoreCase))
            {
                methods = [.. methods, HttpMethods.Options];
            }

            PageActionDescriptor? page = endpoint.Metadata.GetMetadata<PageActionDescriptor>();
            candidates.Add((methods, PathOf(route.RoutePattern), page is not null));
            foreach (RouteBinding binding in BindRoute(route, route))
            {
                int rule = binding.Rule;
                PathPattern pattern = _rules[rule].Pattern;
                if (served[rule] || !binding.Fits(route.RoutePattern.RequiredValues))
                {
                    continue;
                }

                if (!Takes(methods, pattern.Method))
                {
                    (otherMethods[rule] ??= new(StringComparer.OrdinalIgnoreCase)).UnionWith(methods!);
                }
                else if (pattern.Handler is null || HandlersOf(endpoint) is not { } handlers)
                {
                    // A page whose handlers cannot be read (not compiled yet) is given the benefit of the doubt.
                    served[rule] = true;
                }
                else if (Array.Exists(handlers, h => string.Equals(h.Name, pattern.Handler, StringComparison.OrdinalIgnoreCase) && TakesHandler(h.HttpMethod, pattern.Method)))
                {
                    served[rule] = true;
                }
                else
                {
                    (pages[rule] ??= []).Add((page!.AreaName is { } area ? $"{page.ViewEnginePath} (area {area})" : page.ViewEnginePath, handlers));
                }
            }
        }

        var unserved = new List<UnservedPathRule>();
        for (int i = 0; i < _rules.Length; i++)
        {
            PathPattern pattern = _rules[i].Pattern;
            if (served[i] || pattern.HasWildcardPath)
            {
                continue;
            }

            (string reason, string? suggestion) = pattern.Handler is { } handler
                ? DescribeHandler(pattern, handler, pages[i], candidates)
                : DescribePath(pattern, otherMethods[i], candidates);
            unserved.Add(new UnservedPathRule(pattern.Text, string.Join(", ", _settings[i]), reason, suggestion));
        }

        return unserved;
    }

    /// <summary>
    /// The settings the exact rule <paramref name="rule"/> (as <see cref="UnservedPathRule.Rule"/> gives it) is written in,
    /// or <see langword="null"/> when this set has no such rule: one <see cref="FindUnserved"/> looks at.
    /// </summary>
    /// <param name="rule">The rule as written, compared case-insensitively.</param>
    public string? SettingOfExactRule(string rule)
    {
        for (int i = 0; i < _rules.Length; i++)
        {
            PathPattern pattern = _rules[i].Pattern;
            if (!pattern.HasWildcardPath && string.Equals(pattern.Text, rule, StringComparison.OrdinalIgnoreCase))
            {
                return string.Join(", ", _settings[i]);
            }
        }

        return null;
    }

    private static (string Reason, string? Suggestion) DescribePath(
        PathPattern pattern, SortedSet<string>? otherMethods, List<(IReadOnlyList<string>? Methods, string Path, bool Page)> candidates)
    {
        string path = pattern.LiteralPath.Value!;
        if (otherMethods is { Count: > 0 })
        {
            return ($"the endpoints at {path} take {string.Join(", ", otherMethods)}, not {pattern.Method}", Rule(otherMethods.First(), path, null));
        }

        string? nearest = StrictConfiguration.Nearest(path, candidates.Where(c => Takes(c.Methods, pattern.Method)).Select(static c => c.Path).Distinct(StringComparer.OrdinalIgnoreCase));
        return (pattern.Method is null ? $"no endpoint of the app serves {path}" : $"no endpoint of the app serves {pattern.Method} at {path}", nearest is null ? null : Rule(pattern.Method, nearest, null));
    }

    private static (string Reason, string? Suggestion) DescribeHandler(
        PathPattern pattern, string handler, List<(string Page, (string HttpMethod, string? Name)[] Handlers)>? pages, List<(IReadOnlyList<string>? Methods, string Path, bool Page)> candidates)
    {
        string path = pattern.LiteralPath.Value!;
        string method = pattern.Method is null ? string.Empty : pattern.Method + " ";
        if (pages is not { Count: > 0 })
        {
            string? nearestPage = StrictConfiguration.Nearest(path, candidates.Where(static c => c.Page).Select(static c => c.Path).Distinct(StringComparer.OrdinalIgnoreCase));
            return ($"no Razor page serves {path}, and only a page's handlers can be named in a rule", nearestPage is null ? null : Rule(pattern.Method, nearestPage, handler));
        }

        string[] names = [.. pages.SelectMany(p => p.Handlers)
            .Where(h => h.Name is not null && TakesHandler(h.HttpMethod, pattern.Method))
            .Select(static h => h.Name!)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.OrdinalIgnoreCase)];
        string listed = names.Length == 0 ? $"it has no named {method}handler" : $"its {method}handlers are named {string.Join(", ", names)}";
        string? nearest = StrictConfiguration.Nearest(handler, names);
        return ($"the Razor page {string.Join(", ", pages.Select(static p => p.Page).Distinct(StringComparer.Ordinal))} has no {method}handler named {handler} (On{(pattern.Method is null ? "{Method}" : Capitalized(pattern.Method))}{handler}); {listed}",
            nearest is null ? null : Rule(pattern.Method, path, nearest));
    }

    private static string Rule(string? method, string path, string? handler) => $"{method ?? "*"}:{path}{(handler is null ? null : "?handler=" + handler)}";

    private static string Capitalized(string method) => method[..1] + method[1..].ToLowerInvariant();

    /// <summary>Whether an endpoint that takes <paramref name="methods"/> (null for any) serves a rule for <paramref name="ruleMethod"/>.</summary>
    private static bool Takes(IReadOnlyList<string>? methods, string? ruleMethod)
        => methods is null || ruleMethod is null || methods.Any(m => HttpMethodCoverage.Covers(ruleMethod, m));

    /// <summary>Whether a page handler for <paramref name="handlerMethod"/> runs for a rule's method: Razor Pages runs GET handlers for HEAD.</summary>
    private static bool TakesHandler(string handlerMethod, string? ruleMethod)
        => ruleMethod is null || HttpMethodCoverage.Covers(ruleMethod, handlerMethod) || (HttpMethods.IsHead(ruleMethod) && HttpMethods.IsGet(handlerMethod));

    /// <summary>
    /// The handlers of a Razor page's endpoint, or <see langword="null"/> when the endpoint does not say (a page that is
    /// compiled when first requested): the compiled page's descriptor, else what EmailGuard's page model provider recorded.
    /// </summary>
    private static (string HttpMethod, string? Name)[]? HandlersOf(Endpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<CompiledPageActionDescriptor>() is { } compiled)
        {
            return [.. compiled.HandlerMethods.Select(static h => (h.HttpMethod, h.Name))];
        }

        return endpoint.Metadata.GetMetadata<PageHandlerRateLimits>() is { } recorded ? [.. recorded.Handlers.Select(static h => (h.HttpMethod, h.Name))] : null;
    }

    /// <summary>
    /// A route's path as a rule would name it: a parameter the endpoint fixes (an MVC conventional route's controller and
    /// action) as its value, a trailing optional or catch-all parameter left out, any other parameter as <c>{name}</c>.
    /// </summary>
    private static string PathOf(RoutePattern pattern)
    {
        var segments = new List<string>();
        foreach (RoutePatternPathSegment segment in pattern.PathSegments)
        {
            if (segment.IsSimple && segment.Parts[0] is RoutePatternParameterPart parameter)
            {
                if (pattern.RequiredValues.TryGetValue(parameter.Name, out object? value) && value is string { Length: > 0 } fixedValue)
                {
                    segments.Add(fixedValue);
                    continue;
                }

                if (parameter.IsOptional || parameter.IsCatchAll)
                {
                    continue;
                }
            }

            segments.Add(string.Concat(segment.Parts.Select(static part => part switch
            {
                RoutePatternLiteralPart literal => literal.Content,
                RoutePatternSeparatorPart separator => separator.Content,
                RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
                _ => string.Empty,
            })));
        }

        return "/" + string.Join('/', segments);
    }
}
