using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Adds <see cref="PageHandlerPolicyCheck"/> to every Razor page, and <see cref="UnguardedEndpointFilter"/> to every
/// action and page, when the app uses MVC or Razor Pages.
/// </summary>
internal sealed class ConfigureEmailGuardPageFilters(ILoggerFactory loggerFactory, UnguardedEndpoints refusals) : IConfigureOptions<MvcOptions>
{
    public void Configure(MvcOptions options)
    {
        options.Filters.Add(new UnguardedEndpointFilter(refusals));
        options.Filters.Add(new PageHandlerPolicyCheck(loggerFactory.CreateLogger<PageHandlerPolicyCheck>()));
    }
}
