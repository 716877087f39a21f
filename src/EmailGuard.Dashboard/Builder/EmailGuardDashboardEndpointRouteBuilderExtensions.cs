using System.Diagnostics.CodeAnalysis;
using System.Net;
using EmailGuard.Dashboard;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Mounts the EmailGuard dashboard.</summary>
public static class EmailGuardDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the dashboard's pages and actions under <paramref name="pattern"/>, as a route group the app can extend
    /// (add conventions, more endpoints). Every endpoint requires <see cref="EmailGuardDashboardOptions.AuthorizationPolicy"/>;
    /// without one, the dashboard maps only in Development and then every endpoint of the group serves only local requests (from a loopback address,
    /// to <c>localhost</c>, a <c>.localhost</c> name or a loopback address, with no forwarding header: a reverse proxy on
    /// the same machine makes every visitor look local). Anonymous access is never the default. No endpoint of the group
    /// answers a script of another origin (<c>Sec-Fetch-Mode: cors</c> from another site or origin: 403), whatever CORS
    /// policy the app applies.
    /// </summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="pattern">The path prefix, e.g. <c>/emailguard</c>; no route parameters.</param>
    /// <param name="configure">Sets the authorization policy, the title and page sizes.</param>
    /// <returns>The route group of the dashboard's endpoints.</returns>
    /// <exception cref="InvalidOperationException"><c>AddDashboard()</c> was not called, the named policy does not exist, or no policy was named outside Development.</exception>
    public static RouteGroupBuilder MapEmailGuardDashboard(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = "/emailguard", Action<EmailGuardDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        IServiceProvider services = endpoints.ServiceProvider;
        if (services.GetService<DashboardMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapEmailGuardDashboard needs the dashboard's services: call builder.Services.AddEmailGuard().AddDashboard() (and AddSendGuard() for the send guard's pages).");
        }

        EmailGuardDashboardOptions options = new();
        configure?.Invoke(options);
        options.PageSize = Math.Clamp(options.PageSize, 1, 1_000);
        options.TopCount = Math.Clamp(options.TopCount, 1, 50);
        bool localOnly = false;
        if (string.IsNullOrWhiteSpace(options.AuthorizationPolicy))
        {
            if (services.GetService<IHostEnvironment>() is not { } environment || !environment.IsDevelopment())
            {
                throw new InvalidOperationException(
                    $"MapEmailGuardDashboard(\"{pattern}\") needs an authorization policy outside Development: the dashboard shows who sends mail and can lift limits. " +
                    "Register one (builder.Services.AddAuthorization(o => o.AddPolicy(\"EmailGuardAdmin\", p => p.RequireRole(\"ops\")))) and name it: " +
                    $"app.MapEmailGuardDashboard(\"{pattern}\", o => o.AuthorizationPolicy = \"EmailGuardAdmin\").");
            }

            localOnly = true;
        }
        else if (services.GetService<IAuthorizationPolicyProvider>() is not { } provider
                 || provider.GetPolicyAsync(options.AuthorizationPolicy).GetAwaiter().GetResult() is null)
        {
            throw new InvalidOperationException(
                $"MapEmailGuardDashboard: the authorization policy '{options.AuthorizationPolicy}' is not registered; add it with builder.Services.AddAuthorization(o => o.AddPolicy(\"{options.AuthorizationPolicy}\", ...)).");
        }

        string? actionsPolicy = string.IsNullOrWhiteSpace(options.ActionsAuthorizationPolicy) ? null : options.ActionsAuthorizationPolicy;
        if (actionsPolicy is not null
            && (services.GetService<IAuthorizationPolicyProvider>() is not { } actionsProvider
                || actionsProvider.GetPolicyAsync(actionsPolicy).GetAwaiter().GetResult() is null))
        {
            throw new InvalidOperationException(
                $"MapEmailGuardDashboard: the actions authorization policy '{actionsPolicy}' is not registered; add it with builder.Services.AddAuthorization(o => o.AddPolicy(\"{actionsPolicy}\", ...)).");
        }

        string prefix = "/" + pattern.Trim('/');
        DashboardMount mount = new(new PathString(prefix == "/" ? string.Empty : prefix), options, localOnly, localOnly ? ForwardingHeaders(services) : [], actionsPolicy);
        RouteGroupBuilder group = endpoints.MapGroup(prefix);

        // No response of the group is stored by the app's output cache: one that caches every GET and runs ahead of the
        // checks served a page an operator had loaded to the next visitor. The authorization middleware's policy keeps an
        // endpoint out of that cache by itself; the local-only check is the group's own, so without this a visitor relayed
        // by a proxy got the page the operator at the machine had loaded. An app that wants the pages cached says so on
        // the group it is given, after this.
        group.WithMetadata(new OutputCacheAttribute { NoStore = true });

        // No script of another origin reads a response of the group, whatever CORS policy the app applies to it: a default
        // policy that lets the app's front end call its API with cookies let a script on that origin (an XSS there, a
        // compromised package) read the operator's pages, their anti-forgery tokens with them, and post the actions. The
        // dashboard has no script of its own, so it never makes such a request. A [DisableCors] on the group would have
        // said so to the CORS middleware, but makes every app without UseCors() fail the dashboard's requests.
        Refuse(group, static context => IsCrossOriginScript(context.Request));
        if (!localOnly)
        {
            group.RequireAuthorization(options.AuthorizationPolicy!);
        }
        else
        {
            // A convention of the group, as the policy would be, so an endpoint the app adds to the group is local-only
            // too; checked in each page's delegate, an export the app added beside them served any visitor.
            string[] forwardingHeaders = mount.ForwardingHeaders;
            Refuse(group, context => !IsLocal(context, forwardingHeaders));
        }

        string[] pages = ["/", "/policies", "/lists", "/flags", "/events"];
        group.MapGet("/", Page(mount, "/", OverviewPage.RenderAsync));
        group.MapGet("/policies", Page(mount, "/policies", PoliciesPage.RenderAsync));
        group.MapGet("/lists", Page(mount, "/lists", ListsPage.RenderAsync));
        group.MapGet("/flags", Page(mount, "/flags", FlagsPage.RenderAsync));
        group.MapGet("/events", Page(mount, "/events", EventsPage.RenderAsync));
        IEndpointConventionBuilder[] actions =
        [
            group.MapPost("/lists/add", Page(mount, "/lists/add", DashboardActions.AddToListAsync)),
            group.MapPost("/lists/remove", Page(mount, "/lists/remove", DashboardActions.RemoveFromListAsync)),
            group.MapPost("/flags/apply", Page(mount, "/flags/apply", DashboardActions.ApplyFlagAsync)),
            group.MapPost("/flags/clear", Page(mount, "/flags/clear", DashboardActions.ClearFlagAsync)),
            group.MapPost("/tenants/limits/reload", Page(mount, "/tenants/limits/reload", DashboardActions.ReloadTenantLimitsAsync)),
            .. MapOtherMethods(group, ["/lists/add", "/lists/remove", "/flags/apply", "/flags/clear", "/tenants/limits/reload"], HttpMethods.Post),
        ];
        MapOtherMethods(group, pages, HttpMethods.Get);

        if (actionsPolicy is not null)
        {
            // On top of the group's policy: the authorization middleware requires both before the form is read.
            foreach (IEndpointConventionBuilder action in actions)
            {
                action.RequireAuthorization(actionsPolicy);
            }
        }

        return group;
    }

    /// <summary>
    /// Maps each of <paramref name="routes"/> for every method but <paramref name="method"/>, answering 405 with an
    /// <c>Allow</c> header. Routing answers a wrong method itself, with a 405 of its own that no authorization policy
    /// covers, so an anonymous visitor learnt which action paths exist; these endpoints are the group's, so its policy
    /// (and the local-only check) answers first. An endpoint that names its method is preferred to one that names none,
    /// so the page or action itself still takes its own method.
    /// </summary>
    private static IEndpointConventionBuilder[] MapOtherMethods(RouteGroupBuilder group, string[] routes, string method)
        => [.. routes.Select(route => group.Map(route, context =>
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = method;
            return Task.CompletedTask;
        }))];

    private static RequestDelegate Page(DashboardMount mount, string route, Func<DashboardRequest, Task> render)
        => context => mount.ActionsPolicy is null ? render(new DashboardRequest(context, mount, route, canAct: true)) : RenderForAsync(context, mount, route, render);

    /// <summary>
    /// A request a script of another origin made to read the response (Fetch Metadata, which every current browser
    /// sends: <c>Sec-Fetch-Mode: cors</c> from a site other than the dashboard's own origin). A link followed, a form
    /// posted or a page reloaded is a navigation, and a request without the headers (an older browser, a tool) is served.
    /// </summary>
    private static bool IsCrossOriginScript(HttpRequest request)
        => string.Equals(request.Headers["Sec-Fetch-Mode"], "cors", StringComparison.OrdinalIgnoreCase)
           && request.Headers["Sec-Fetch-Site"] is { Count: > 0 } site
           && !string.Equals(site, "same-origin", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Answers 403, with an empty body, every request to an endpoint of the group (the dashboard's and those the app adds
    /// to it) that <paramref name="refused"/> says must not be served.
    /// </summary>
    private static void Refuse(RouteGroupBuilder group, Func<HttpContext, bool> refused)
        => ((IEndpointConventionBuilder)group).Add(endpoint =>
        {
            if (endpoint.RequestDelegate is { } inner)
            {
                endpoint.RequestDelegate = context =>
                {
                    if (!refused(context))
                    {
                        return inner(context);
                    }

                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return Task.CompletedTask;
                };
            }
        });

    /// <summary>Renders a page with its action forms only for a user who meets the actions policy.</summary>
    private static async Task RenderForAsync(HttpContext context, DashboardMount mount, string route, Func<DashboardRequest, Task> render)
    {
        IAuthorizationService authorization = context.RequestServices.GetRequiredService<IAuthorizationService>();
        // With the request as the resource, as the authorization middleware evaluates it: a policy that looks at the
        // request (actions only from the office network) held nowhere here, so no form showed and every action was 403.
        AuthorizationResult result = await authorization.AuthorizeAsync(context.User, context, mount.ActionsPolicy!).ConfigureAwait(false);
        await render(new DashboardRequest(context, mount, route, result.Succeeded)).ConfigureAwait(false);
    }

    /// <summary>
    /// A request from this machine to a name of this machine, not relayed by a proxy. The name matters: a page on a name
    /// its owner re-points at 127.0.0.1 (DNS rebinding) is same-origin with the dashboard, so its script could read the
    /// forms and post them, from a loopback connection with that name in its Host header. So does a forwarding header:
    /// nginx, YARP or Caddy on the same machine connect from loopback and often pass <c>Host: localhost</c>, so every
    /// visitor they relay would look local; <c>ForwardedHeadersMiddleware</c>, when it consumed the headers, leaves the
    /// <c>X-Original-*</c> ones behind.
    /// </summary>
    private static bool IsLocal(HttpContext context, string[] forwardingHeaders)
    {
        if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)
            || !IsLocalName(context.Request.Host.Host))
        {
            return false;
        }

        IHeaderDictionary headers = context.Request.Headers;
        foreach (string name in forwardingHeaders)
        {
            if (headers.ContainsKey(name))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The headers a proxy adds (RFC 7239 <c>Forwarded</c>, the <c>X-Forwarded-*</c> family, nginx's <c>X-Real-IP</c>)
    /// and the <c>X-Original-*</c> ones <c>ForwardedHeadersMiddleware</c> leaves after applying them, with the names the
    /// app's <see cref="ForwardedHeadersOptions"/> gives them when it renames them.
    /// </summary>
    private static string[] ForwardingHeaders(IServiceProvider services)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "Forwarded", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix",
            "X-Original-For", "X-Original-Host", "X-Original-Proto", "X-Original-Prefix",
        };
        if (services.GetService<IOptions<ForwardedHeadersOptions>>()?.Value is { } forwarded)
        {
            names.UnionWith(new[]
            {
                forwarded.ForwardedForHeaderName, forwarded.ForwardedHostHeaderName, forwarded.ForwardedProtoHeaderName, forwarded.ForwardedPrefixHeaderName,
                forwarded.OriginalForHeaderName, forwarded.OriginalHostHeaderName, forwarded.OriginalProtoHeaderName, forwarded.OriginalPrefixHeaderName,
            }.Where(n => !string.IsNullOrEmpty(n)));
        }

        return [.. names];
    }

    /// <summary><c>localhost</c>, a name under <c>.localhost</c> (RFC 6761: never resolved elsewhere), or a loopback address.</summary>
    private static bool IsLocalName(string host)
        => host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
           || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
           || (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));
}
