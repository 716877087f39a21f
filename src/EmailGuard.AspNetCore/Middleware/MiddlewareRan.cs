namespace EmailGuard.AspNetCore;

/// <summary>
/// Set on a request by the EmailGuard middleware when it ran after routing and found EmailGuard metadata on the
/// endpoint, so the endpoint can tell that its policy was applied (<see cref="UnguardedEndpoints"/>). One shared
/// instance: marking a request allocates nothing.
/// </summary>
internal sealed class MiddlewareRan
{
    public static readonly MiddlewareRan Instance = new();

    private MiddlewareRan()
    {
    }
}
