using Microsoft.AspNetCore.Http;

namespace EmailGuard.Dashboard;

/// <summary>Where and how one dashboard is mounted.</summary>
internal sealed record DashboardMount(PathString Prefix, EmailGuardDashboardOptions Options, bool LocalOnly, string[] ForwardingHeaders);
