using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Path rules from configuration and an MVC app to apply them to, for the tests of rules over routes.</summary>
internal static class MvcPathRuleApps
{
    /// <summary>One rule on <paramref name="endpoint"/> of <paramref name="limit"/> an hour, and a fallback of 100 when asked.</summary>
    public static Dictionary<string, string?> Rules(string endpoint, int limit = 1, bool fallback = false)
    {
        var rules = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = endpoint,
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
        };
        if (fallback)
        {
            rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "*";
            rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "100";
        }

        return rules;
    }

    /// <summary>An MVC app of this assembly's controllers, mapped by <paramref name="map"/>, with the rules of <paramref name="configuration"/>.</summary>
    public static Task<TestApp> StartAsync(Dictionary<string, string?> configuration, Action<WebApplication> map, bool views = false) => TestApp.StartAsync(
        s =>
        {
            // Mapping controllers maps the attribute-routed test controllers too, which require these policies.
            s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(100)));
                o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(100)));
            });
            IMvcBuilder mvc = views ? s.AddControllersWithViews() : s.AddControllers();
            mvc.AddApplicationPart(typeof(MvcPathRuleApps).Assembly);
        },
        map,
        configuration);
}
