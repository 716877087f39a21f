using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>Adds <see cref="PageHandlerPolicyCheck"/> to every Razor page, when the app uses MVC or Razor Pages.</summary>
internal sealed class ConfigureEmailGuardPageFilters(ILoggerFactory loggerFactory) : IConfigureOptions<MvcOptions>
{
    public void Configure(MvcOptions options)
        => options.Filters.Add(new PageHandlerPolicyCheck(loggerFactory.CreateLogger<PageHandlerPolicyCheck>()));
}
