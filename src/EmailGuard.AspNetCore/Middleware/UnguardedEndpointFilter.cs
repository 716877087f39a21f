using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace EmailGuard.AspNetCore;

/// <summary>
/// <see cref="UnguardedEndpoints"/> for MVC actions and Razor pages limited by <see cref="EmailRateLimitAttribute"/>,
/// which no endpoint convention wraps: first among resource filters, before model binding and before a page chooses
/// its handler.
/// </summary>
internal sealed class UnguardedEndpointFilter(UnguardedEndpoints refusals) : IAsyncResourceFilter, IOrderedFilter
{
    public int Order => int.MinValue;

    public Task OnResourceExecutionAsync(ResourceExecutingContext context, ResourceExecutionDelegate next)
    {
        if (!UnguardedEndpoints.MustRefuse(context.HttpContext, out string policy))
        {
            return next();
        }

        refusals.Refused(context.HttpContext, policy);
        context.Result = new StatusCodeResult(StatusCodes.Status500InternalServerError);
        return Task.CompletedTask;
    }
}
