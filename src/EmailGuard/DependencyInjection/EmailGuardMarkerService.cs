namespace EmailGuard;

/// <summary>
/// Registered by <c>AddEmailGuard()</c> so that <c>UseEmailGuard()</c> can tell the services are missing and say so,
/// instead of failing on the first request.
/// </summary>
internal sealed class EmailGuardMarkerService;
