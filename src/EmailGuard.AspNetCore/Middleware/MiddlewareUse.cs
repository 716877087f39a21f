namespace EmailGuard.AspNetCore;

/// <summary>Whether <c>UseEmailGuard()</c> added the middleware, for <see cref="MiddlewareUseCheck"/>.</summary>
internal sealed class MiddlewareUse
{
    private volatile bool _used;

    public bool Used
    {
        get => _used;
        set => _used = value;
    }
}
