using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The HTTP method routing chose the request's endpoint for, which policies and path rules are decided by.
/// <c>app.UseHttpMethodOverride()</c> placed after <c>UseRouting()</c> rewrites a POST's <c>Request.Method</c> from its
/// <c>X-HTTP-Method-Override</c> header or <c>_method</c> form field once routing has already picked the POST endpoint,
/// which then runs its POST handler all the same. Decided by the rewritten method, a POST with
/// <c>X-HTTP-Method-Override: GET</c> passed a <c>POST:/api/invite</c> path rule and a policy scoped to POST, and the
/// endpoint mailed without limit.
/// </summary>
internal static class RoutedMethod
{
    /// <summary>
    /// <see cref="HttpRequest.Method"/> when the endpoint takes it, or names no method (routing sends it every method,
    /// and <see cref="HttpMethodCoverage"/> decides); otherwise the method routing must have matched it by: the
    /// endpoint's only method, else POST when it takes POST (the override middleware rewrites only POSTs), else its
    /// first method.
    /// </summary>
    /// <param name="context">The request, after routing.</param>
    /// <param name="endpoint">The request's endpoint, or <see langword="null"/>.</param>
    /// <param name="changed">Whether the request's method is not one its endpoint takes.</param>
    public static string Of(HttpContext context, Endpoint? endpoint, out bool changed)
    {
        string method = context.Request.Method;
        changed = false;
        if (endpoint?.Metadata.GetMetadata<IHttpMethodMetadata>() is not { HttpMethods: { Count: > 0 } methods } metadata
            || Takes(methods, method) is not null)
        {
            return method;
        }

        // Routing sends a CORS preflight to the endpoint of the method it asks for. It runs that endpoint's handler
        // unless UseCors() answers it first, so it is decided as that method; a forged one is no way around the rule.
        if (metadata.AcceptCorsPreflight && HttpMethods.IsOptions(method)
            && context.Request.Headers.AccessControlRequestMethod is [{ } requested] && Takes(methods, requested) is { } asked)
        {
            return asked;
        }

        changed = true;
        if (methods.Count == 1)
        {
            return methods[0];
        }

        foreach (string taken in methods)
        {
            if (HttpMethods.IsPost(taken))
            {
                return taken;
            }
        }

        return methods[0];
    }

    /// <summary>The method of <paramref name="methods"/> that routing matches <paramref name="method"/> to, in any case; GET covers HEAD, as everywhere in EmailGuard (<see cref="HttpMethodCoverage"/>).</summary>
    private static string? Takes(IReadOnlyList<string> methods, string method)
    {
        foreach (string taken in methods)
        {
            if (string.Equals(taken, method, StringComparison.OrdinalIgnoreCase) || (HttpMethods.IsGet(taken) && HttpMethods.IsHead(method)))
            {
                return taken;
            }
        }

        return null;
    }
}
