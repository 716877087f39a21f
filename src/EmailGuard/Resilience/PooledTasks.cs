namespace EmailGuard;

/// <summary>
/// Hands a task that may come from a pool (<see cref="System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder{TResult}"/>)
/// to a caller outside EmailGuard. A pooled task that is still pending answers a blocking read (<c>.Result</c>,
/// <c>.GetAwaiter().GetResult()</c>) with an exception instead of waiting, and an app may block on what it is given.
/// </summary>
internal static class PooledTasks
{
    /// <summary>A completed task as its value; a pending or failed one as a <see cref="Task{TResult}"/>, which a caller may block on.</summary>
    public static ValueTask<T> Blockable<T>(ValueTask<T> pending)
        => pending.IsCompletedSuccessfully ? new(pending.Result) : new(pending.AsTask());
}
