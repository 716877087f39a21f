namespace EmailGuard.Dashboard;

/// <summary>Registered by <c>AddDashboard()</c>, so that <c>MapEmailGuardDashboard</c> can say what is missing.</summary>
internal sealed class DashboardMarker;
