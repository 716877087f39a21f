using System.Diagnostics;

namespace EmailGuard;

/// <summary>
/// The process-wide source of EmailGuard activities. Activity sources are not created through a factory, and a
/// listener filters by name, so one static instance is the norm (as in HttpClient and Polly).
/// </summary>
internal static class EmailGuardActivitySource
{
    public static readonly ActivitySource Instance = new(EmailGuardDiagnostics.ActivitySourceName);
}
