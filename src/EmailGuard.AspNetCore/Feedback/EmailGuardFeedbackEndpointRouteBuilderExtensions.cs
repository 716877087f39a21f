using System.Diagnostics.CodeAnalysis;
using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the provider feedback webhooks.</summary>
public static class EmailGuardFeedbackEndpointRouteBuilderExtensions
{
    /// <summary>The prefix the documentation uses: <c>/emailguard/feedback</c>.</summary>
    public const string DefaultPrefix = "/emailguard/feedback";

    /// <summary>
    /// Maps <c>POST {prefix}/ses</c>, <c>/mailgun</c>, <c>/sendgrid</c> and <c>/postmark</c>, each only when
    /// <c>EmailGuard:Webhooks:&lt;Provider&gt;:Enabled</c> is true. The routes authenticate each request themselves
    /// (signature or credentials), so they allow anonymous callers; bad input records nothing and answers 400, 401 or
    /// 413, a store outage answers 503 so the provider retries.
    /// Path rules (<c>EmailGuard:Endpoints:PathRules</c>) whose pattern holds a wildcard, the <c>*</c> fallback among them,
    /// do not count these routes: providers post from a few addresses in bursts and would drop events after repeated 429s.
    /// A path rule that names a route without a wildcard, or a policy attached to the returned group, still applies.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder, usually the <c>WebApplication</c>.</param>
    /// <param name="prefix">The route prefix.</param>
    /// <returns>The route group, to add conventions such as <c>RequireHost</c>.</returns>
    /// <exception cref="InvalidOperationException">
    /// <c>AddFeedbackWebhooks()</c> was not called, no <see cref="EmailGuard.IEmailGuardFeedback"/> is registered, or no
    /// provider is enabled.
    /// </exception>
    public static RouteGroupBuilder MapEmailGuardFeedback(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix = DefaultPrefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        WebhookEndpoints webhooks = StartupValidation.Resolve(endpoints.ServiceProvider, static sp => sp.GetService<WebhookEndpoints>()) ?? throw new InvalidOperationException(
            "Unable to find the EmailGuard feedback webhook services. Add them by calling " +
            "'services.AddEmailGuard().AddFeedbackWebhooks()' in the application startup code.");
        if (webhooks.Endpoints.Count == 0)
        {
            throw new InvalidOperationException(
                "No feedback webhook is enabled. Set EmailGuard:Webhooks:Ses:Enabled, EmailGuard:Webhooks:Mailgun:Enabled, " +
                "EmailGuard:Webhooks:SendGrid:Enabled or EmailGuard:Webhooks:Postmark:Enabled to true, with that provider's secret.");
        }

        if (endpoints.ServiceProvider.GetService<WebhookMapping>() is { } mapping)
        {
            mapping.Mapped = true;
        }

        RouteGroupBuilder group = endpoints.MapGroup(prefix);
        group.AllowAnonymous();
        foreach (WebhookEndpoint endpoint in webhooks.Endpoints)
        {
            group.MapPost("/" + endpoint.ProviderName, endpoint.HandleAsync)
                .WithDisplayName("EmailGuard feedback webhook: " + endpoint.ProviderName)
                .WithMetadata(FeedbackWebhookMetadata.Instance);
        }

        return group;
    }
}
