using Microsoft.AspNetCore.Http;

namespace EmailGuard.Dashboard;

/// <summary>Where and how one dashboard is mounted; <paramref name="ActionsPolicy"/> is the policy its actions require on top of the pages', if any.</summary>
internal sealed record DashboardMount(PathString Prefix, EmailGuardDashboardOptions Options, bool LocalOnly, string[] ForwardingHeaders, string? ActionsPolicy = null);
