namespace EmailGuard;

/// <summary>
/// The one timeout helper: bounds a wait on a call by a timeout on the app's <see cref="TimeProvider"/>. The call
/// itself is not cancelled, only the wait: an abandoned call finishes on its own and its exception is observed, so it
/// never surfaces as an unobserved task exception.
/// </summary>
/// <remarks>
/// The state store, the tenant limit provider and the Redis checks wait through <see cref="WaitAsync{T}(ValueTask{T}, TimeSpan, TimeProvider, CancellationToken)"/>.
/// The resilient rate-limit store waits itself, since it must tell the caller's cancellation (whose admission it
/// gives back) from a timeout, but it leaves abandoned calls through <see cref="Abandon"/> like everyone else.
/// Compiled into the Redis package from this file too, which is why it names no other type of the core.
/// </remarks>
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
            Abandon(task);
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
            Abandon(task);
            throw;
        }
    }

    /// <summary>
    /// Leaves a call that may still be running to finish on its own: its exception is observed, and
    /// <paramref name="afterwards"/> runs once it has finished, e.g. to return buffers the call still reads.
    /// </summary>
    public static void Abandon(Task task, Action<object?>? afterwards = null, object? state = null)
    {
        if (afterwards is null)
        {
            _ = task.ContinueWith(
                static finished => _ = finished.Exception,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously | TaskContinuationOptions.OnlyOnFaulted,
                TaskScheduler.Default);
            return;
        }

        _ = task.ContinueWith(
            static (finished, cleanup) =>
            {
                _ = finished.Exception;
                (Action<object?> then, object? thenState) = ((Action<object?>, object?))cleanup!;
                then(thenState);
            },
            (afterwards, state),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
