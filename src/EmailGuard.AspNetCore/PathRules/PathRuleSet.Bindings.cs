using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The binding of the exact rules to the app's endpoints: each endpoint's own route, and the other routes of its action
/// or page, made once per endpoint and made again when the app's endpoints change.
/// </summary>
internal sealed partial class PathRuleSet
{
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
            // A rule naming a page handler binds to a page's routes only: other endpoints have no handler to run.
            PathPattern pattern = _rules[i].Pattern;
            var values = new RouteValueDictionary();
            if (!pattern.HasWildcardPath && (page || pattern.Handler is null) && matcher.TryMatch(pattern.LiteralPath, values))
            {
                IEnumerable<(string Key, string Value, string Folded)> expected = values.Where(v => HasValue(endpoint, v.Key)).Select(static v => RouteBinding.Expect(v.Key, v.Value));
                if (pattern.Handler is { } handler)
                {
                    // The handler is expected whether or not the page's route has a {handler?} segment: without one, Razor
                    // Pages takes it from the query.
                    expected = expected.Append(RouteBinding.Expect(RouteBinding.PageHandler, handler));
                }

                (bindings ??= []).Add(new RouteBinding(i, [.. expected], absentAgrees: endpoint is not RouteEndpoint, page));
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
        public const string PageHandler = "handler";

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
                // Razor Pages runs the handler the route names, else the one the query names first, else none: a rule on
                // /share/confirm of a page at "{handler?}", or on /share?handler=confirm, is the handler that
                // /share?handler=confirm runs. A page's handler is never unknown, even where a dynamic route gave no value.
                string? actual = page && string.Equals(key, PageHandler, StringComparison.OrdinalIgnoreCase)
                    ? PageHandlerRateLimits.HandlerName(request.HttpContext) ?? string.Empty
                    : request.RouteValues.TryGetValue(key, out object? v) ? Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty : null;

                if (actual is null)
                {
                    if (absentAgrees)
                    {
                        continue;
                    }

                    actual = string.Empty;
                }

                if (!Same(actual, value, folded))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>
        /// Whether a request that reaches the route endpoint with <paramref name="requiredValues"/> (the action an MVC
        /// conventional route stands for, the page) could have the rule's route values: each value the endpoint fixes
        /// agrees, compared as <see cref="Agrees"/> compares a request's. A value the endpoint does not fix may be anything.
        /// </summary>
        public bool Fits(IReadOnlyDictionary<string, object?> requiredValues)
        {
            foreach ((string key, string value, string folded) in values)
            {
                if (requiredValues.TryGetValue(key, out object? required) && required is string { Length: > 0 } actual && !Same(actual, value, folded))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Whether a route value is the rule's: equal ignoring case, or once folded as a literal segment is.</summary>
        private static bool Same(string actual, string value, string folded)
            => string.Equals(actual, value, StringComparison.OrdinalIgnoreCase)
               || string.Equals(PartitionValueKey.Fold(actual, PartitionValueComparison.IgnoreCase), folded, StringComparison.Ordinal);
    }
}
