using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Controllers;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What runs behind an endpoint, so that the endpoints of one action (one per route) are known as one: an MVC action
/// with several attribute routes, or on a controller with several <c>[Route]</c>s, or a minimal API handler mapped at
/// several paths.
/// </summary>
/// <param name="Controller">The controller type of an MVC action, or <see langword="null"/> for a minimal API handler.</param>
/// <param name="Method">The action method or handler method.</param>
internal sealed record ActionIdentity(Type? Controller, MethodInfo Method)
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
