using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// Something the in-memory store locks while it decides: a key's counter, or a rule shape while it decides keys that
/// have no counter. One process-wide numbering orders them all, so multi-key acquires that lock several cannot deadlock.
/// </summary>
/// <remarks>
/// The lock is a flag taken with one compare-and-swap, not a <see cref="Monitor"/>: a check locks one object per
/// counter (six for a typical message), each for the few hundred nanoseconds of a decision, and the monitor's enter
/// and exit cost three times as much as the swap. A contended caller spins, then yields, then sleeps (<see cref="SpinWait"/>),
/// which suits holds this short. It is not reentrant: no caller takes the same object twice (a multi-key acquire
/// skips an object it has locked already, see <c>InMemoryRateLimitStore.DecideMany</c>).
/// </remarks>
internal abstract class InMemoryLock
{
    private static long s_nextId;

    private int _held;

    protected InMemoryLock() => Id = Interlocked.Increment(ref s_nextId);

    /// <summary>A process-wide unique number that orders lock acquisition.</summary>
    public long Id { get; }

    /// <summary>
    /// The identity of an admitted acquire, from the sequence that numbers locks: drawn while the acquire holds its
    /// counters, it is larger than theirs and smaller than that of any counter created later.
    /// </summary>
    public static long NextAcquisitionId() => Interlocked.Increment(ref s_nextId);

    /// <summary>Takes the lock, waiting for it if another thread holds it. Never called by a thread that holds it.</summary>
    public void Enter()
    {
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0)
        {
            EnterContended();
        }
    }

    /// <summary>Takes the lock if it is free; never waits.</summary>
    public bool TryEnter() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>Releases the lock; everything written while holding it is visible to the next holder.</summary>
    public void Exit() => Volatile.Write(ref _held, 0);

    /// <remarks>
    /// Not inlined: its spinning may yield or sleep, which are calls into the runtime, and inlined into a caller they made
    /// the JIT set up a call frame for them on every call of that caller, contended or not (the store's multi-key decision).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        SpinWait spinner = default;
        do
        {
            spinner.SpinOnce();
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);
    }
}
