namespace EmailGuard.Tests.Resilience;

/// <summary>
/// Answers a store call in the gap between the wrapper's wait for it timing out and the wrapper looking at the call,
/// the gap a reply from a Redis that thaws falls into now and then on a loaded machine. The code that handles the
/// timeout runs in the execution context its call captured; restoring that context (inline or on the thread pool)
/// notifies an <see cref="AsyncLocal{T}"/> set only in the flow started by <see cref="Start{T}"/>, before that code runs,
/// and the notification answers the call once <see cref="Arm"/> was called.
/// </summary>
internal sealed class TimeoutRace
{
    private static readonly object s_marked = new();

    private readonly AsyncLocal<object?> _flow;
    private int _armed;

    /// <param name="answer">Completes the hung call synchronously, so that its task is complete when the wrapper looks.</param>
    public TimeoutRace(Action answer)
        => _flow = new AsyncLocal<object?>(change =>
        {
            if (change.ThreadContextChanged && change.CurrentValue is not null && Interlocked.CompareExchange(ref _armed, 2, 1) == 1)
            {
                answer();
            }
        });

    /// <summary>Whether the call was answered in the gap.</summary>
    public bool Answered => Volatile.Read(ref _armed) == 2;

    /// <summary>Starts the call in a flow of its own, marked for the race; the caller's flow stays unmarked.</summary>
    public T Start<T>(Func<T> start)
    {
        _flow.Value = s_marked;
        try
        {
            return start();
        }
        finally
        {
            _flow.Value = null;
        }
    }

    /// <summary>Arms the race: the next time the marked flow resumes (after the timeout fires), the call is answered first.</summary>
    public void Arm() => Volatile.Write(ref _armed, 1);
}
