namespace EmailGuard.AspNetCore;

/// <summary>
/// Set on every request the EmailGuard middleware sees, so that routing which runs again after it (a rewrite, a
/// re-execution) can tell: <see cref="ReroutedEndpointMatcherPolicy"/>. One shared instance: marking a request allocates
/// nothing.
/// </summary>
internal sealed class MiddlewareSawRequest
{
    public static readonly MiddlewareSawRequest Instance = new();

    private MiddlewareSawRequest()
    {
    }
}
