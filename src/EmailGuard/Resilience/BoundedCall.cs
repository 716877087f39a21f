namespace EmailGuard;

/// <summary>
/// Bounds a wait on a call that is not a rate-limit store call (state store, tenant limit provider, Redis checks) by a
/// timeout on the app's <see cref="TimeProvider"/>. The call itself is not cancelled, only the wait: an abandoned
/// call finishes on its own and its exception is observed, so it never surfaces as an unobserved task exception.
/// </summary>
/// <remarks>The rate-limit store's own calls are bounded in <see cref="ResilientRateLimitStore"/>, which also pools buffers.</remarks>
internal static class BoundedCall
{
    /// <summary>Waits for <paramref name="pending"/> at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">The call did not finish in time.</exception>
    public static Task<T> WaitAsync<T>(ValueTask<T> pending, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
        => pending.IsCompleted ? pending.AsTask() : WaitAsync(pending.AsTask(), timeout, timeProvider, cancellationToken);

    /// <summary>Waits for <paramref name="pending"/> at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">The call did not finish in time.</exception>
    public static Task WaitAsync(ValueTask pending, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
        => pending.IsCompleted ? pending.AsTask() : WaitAsync(pending.AsTask(), timeout, timeProvider, cancellationToken);

    /// <summary>Waits for <paramref name="task"/> at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">The call did not finish in time.</exception>
    public static async Task<T> WaitAsync<T>(Task<T> task, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch when (!task.IsCompleted)
        {
            Observe(task);
            throw;
        }
    }

    /// <summary>Waits for <paramref name="task"/> at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">The call did not finish in time.</exception>
    public static async Task WaitAsync(Task task, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch when (!task.IsCompleted)
        {
            Observe(task);
            throw;
        }
    }

    private static void Observe(Task task)
        => _ = task.ContinueWith(
            static finished => _ = finished.Exception,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously | TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
}
