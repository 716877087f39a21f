namespace EmailGuard.AspNetCore;

/// <summary>
/// Thrown by <see cref="RewriteCheckedRequestFeature"/> when a middleware after the EmailGuard middleware sets a request's
/// path or method onto one that a path rule covers which the middleware did not count. It unwinds whatever set it (a
/// rewriter, <c>UsePathBase()</c>, a method override) before the rewritten request reaches anything that serves it; the
/// middleware catches it and answers 500. A middleware in between that swallows it still stops the pipeline below it.
/// </summary>
internal sealed class UncountedRewriteException : Exception
{
    public UncountedRewriteException()
    {
    }

    public UncountedRewriteException(string message)
        : base(message)
    {
    }

    public UncountedRewriteException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
