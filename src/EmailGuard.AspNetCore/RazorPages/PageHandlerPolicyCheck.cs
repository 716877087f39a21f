using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The handler-selection-time check behind <see cref="PageHandlerRateLimits.Select(HttpContext)"/>: the middleware decided before
/// the page chose its handler, so once Razor Pages has chosen, this filter makes sure the handler about to run is
/// limited by the policy that was counted. An app with its own <c>IPageHandlerMethodSelector</c> could otherwise
/// run an <c>OnPostShare</c> that was counted as <c>OnPost</c>; it gets a 500 and an error log instead, never an
/// unlimited handler.
/// </summary>
internal sealed partial class PageHandlerPolicyCheck(ILogger<PageHandlerPolicyCheck> logger) : IAsyncPageFilter, IOrderedFilter
{
    /// <summary>First, before any filter of the app's runs code for the handler.</summary>
    public int Order => int.MinValue;

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        if (context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<PageHandlerRateLimits>() is { HasHandlerMetadata: true } page)
        {
            PageHandlerRateLimit? expected = page.Select(context.HttpContext);
            MethodInfo? ran = context.HandlerMethod?.MethodInfo;
            PageHandlerRateLimit? actual = ran is null ? null : Array.Find(page.Handlers, h => h.Method == ran);
            if (!SamePolicy(expected?.Metadata, actual?.Metadata))
            {
                LogHandlerMismatch(logger, page.Page, expected?.Method.Name ?? "(none)", ran?.Name ?? "(none)");
                context.Result = new StatusCodeResult(StatusCodes.Status500InternalServerError);
                return Task.CompletedTask;
            }
        }

        return next();
    }

    /// <summary>No own attribute (the page's applies), disabled, or the same policy name.</summary>
    private static bool SamePolicy(IEmailRateLimitMetadata? expected, IEmailRateLimitMetadata? actual)
        => (expected is null) == (actual is null) && string.Equals(expected?.PolicyName, actual?.PolicyName, StringComparison.Ordinal);

    [LoggerMessage(EventId = 1600, EventName = "PageHandlerPolicyMismatch", Level = LogLevel.Error,
        Message = "The Razor page '{Page}' chose the handler {Actual}, but EmailGuard counted the request for {Expected}, which has another policy. The request was refused with 500. A custom IPageHandlerMethodSelector must choose handlers as the default one does.")]
    private static partial void LogHandlerMismatch(ILogger logger, string page, string expected, string actual);
}
