using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What runs behind an endpoint, so that the endpoints of one action (one per route) are known as one: an MVC action
/// with several attribute routes, or on a controller with several <c>[Route]</c>s, a minimal API handler mapped at
/// several paths, or a Razor page at several routes (an <c>Index</c> page at its folder, a route added by
/// <c>AddPageRoute</c>).
/// </summary>
/// <param name="Controller">The controller type of an MVC action, or <see langword="null"/> for a minimal API handler or a page.</param>
/// <param name="Method">The action method or handler method, or <see langword="null"/> for a page.</param>
/// <param name="Area">The area of a page, or <see langword="null"/>.</param>
/// <param name="Page">The page's path below the pages' root (<c>/Account/Login</c>), or <see langword="null"/> for an action or a handler.</param>
internal sealed record ActionIdentity(Type? Controller, MethodInfo? Method, string? Area = null, string? Page = null)
{
    /// <summary>
    /// The action behind <paramref name="endpoint"/>, or <see langword="null"/> when it cannot be told apart from another
    /// action: a handler whose method reads the state of its delegate's target (a lambda capturing a variable, a method
    /// of an object), since two mappings of one such method may be two different handlers.
    /// </summary>
    public static ActionIdentity? Of(Endpoint endpoint)
    {
        // An action inherited by two controllers is one method in two actions; the controller type tells them apart.
        if (endpoint.Metadata.GetMetadata<ControllerActionDescriptor>() is { } action)
        {
            return new ActionIdentity(action.ControllerTypeInfo, action.MethodInfo);
        }

        // Razor Pages makes one descriptor per route of a page, and the endpoint a request reaches is the compiled page's
        // (PageLoaderMatcherPolicy swaps it in), not one of the data source's; the page's path is what they share. One
        // page in two areas is two pages.
        if (endpoint.Metadata.GetMetadata<PageActionDescriptor>() is { ViewEnginePath: { } page } pageAction)
        {
            return new ActionIdentity(null, null, pageAction.AreaName, page);
        }

        // Minimal APIs add the handler's MethodInfo to the endpoint's metadata; a RequestDelegate endpoint has none.
        return endpoint.Metadata.GetMetadata<MethodInfo>() is { } method && HoldsNoState(method) ? new ActionIdentity(null, method) : null;
    }

    /// <summary>
    /// Whether every delegate to <paramref name="method"/> does the same: a static method, or a lambda that captures
    /// nothing (the compiler puts those on one cached closure instance, a class with no instance fields). A lambda that
    /// captures, mapped by a helper once per path with another captured value each time, is one method and several handlers.
    /// </summary>
    private static bool HoldsNoState(MethodInfo method) =>
        method.IsStatic
        || (method.DeclaringType is { } type
            && type.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false)
            && type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Length == 0);
}
