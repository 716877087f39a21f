using System.Reflection;
using Microsoft.AspNetCore.Mvc.ApplicationModels;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Reads <see cref="EmailRateLimitAttribute"/> and <see cref="DisableEmailRateLimitAttribute"/> from Razor page
/// handlers into the page endpoint's metadata (<see cref="PageHandlerRateLimits"/>), and fails the page's build (at
/// startup, when the middleware checks every endpoint) when an attribute sits on a page method that is not a handler
/// or names methods on a handler: there it would compile and silently limit nothing.
/// </summary>
internal sealed class EmailRateLimitPageApplicationModelProvider : IPageApplicationModelProvider
{
    private const BindingFlags AllMethods = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    /// <summary>After the default provider (-1000), which discovers the handlers.</summary>
    public int Order => -1000 + 100;

    public void OnProvidersExecuting(PageApplicationModelProviderContext context)
    {
        PageApplicationModel page = context.PageApplicationModel;
        string name = page.ViewEnginePath;
        var handlers = new PageHandlerRateLimit[page.HandlerMethods.Count];
        for (int i = 0; i < handlers.Length; i++)
        {
            PageHandlerModel handler = page.HandlerMethods[i];
            IEmailRateLimitMetadata? own = handler.Attributes.OfType<IEmailRateLimitMetadata>().LastOrDefault();
            if (own is EmailRateLimitAttribute { Methods: not null })
            {
                throw new InvalidOperationException(
                    $"[EmailRateLimit(Methods = ...)] on {Describe(handler.MethodInfo)} of the Razor page '{name}': a page handler answers one HTTP " +
                    $"method already ({handler.HttpMethod}). Remove Methods, or put the attribute on the page model class.");
            }

            handlers[i] = new PageHandlerRateLimit(handler.HttpMethod, handler.HandlerName, handler.MethodInfo, own);
        }

        CheckNonHandlers(page.HandlerType, handlers, name);
        page.EndpointMetadata.Add(new PageHandlerRateLimits(name, handlers));
    }

    public void OnProvidersExecuted(PageApplicationModelProviderContext context)
    {
    }

    private static void CheckNonHandlers(TypeInfo handlerType, PageHandlerRateLimit[] handlers, string page)
    {
        for (Type? type = handlerType; type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (MethodInfo method in type.GetMethods(AllMethods))
            {
                if (!method.IsDefined(typeof(EmailRateLimitAttribute), inherit: true) && !method.IsDefined(typeof(DisableEmailRateLimitAttribute), inherit: true))
                {
                    continue;
                }

                if (!Array.Exists(handlers, h => IsSameMethod(h.Method, method)))
                {
                    throw new InvalidOperationException(
                        $"An EmailGuard attribute on {Describe(method)} of the Razor page '{page}' would limit nothing: {method.Name} is not a " +
                        "page handler. Handlers are public instance methods named On{Verb}[Name][Async], e.g. OnPost or OnPostShare; put the " +
                        "attribute on one, or on the page model class, which covers the page's POST, PUT, PATCH and DELETE handlers.");
                }
            }
        }
    }

    /// <summary>The same declaration, whichever type it was reflected from, and the override of a base handler too.</summary>
    private static bool IsSameMethod(MethodInfo handler, MethodInfo method)
        => (handler.Module == method.Module && handler.MetadataToken == method.MetadataToken)
           || handler.GetBaseDefinition() == method.GetBaseDefinition();

    private static string Describe(MethodInfo method) => $"{method.DeclaringType?.Name}.{method.Name}";
}
