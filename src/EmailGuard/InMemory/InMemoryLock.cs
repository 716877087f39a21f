namespace EmailGuard;

/// <summary>
/// Something the in-memory store locks while it decides: a key's counter, or a rule shape while it decides keys that
/// have no counter. One process-wide numbering orders them all, so multi-key acquires that lock several cannot deadlock.
/// </summary>
internal abstract class InMemoryLock
{
    private static long s_nextId;

    protected InMemoryLock() => Id = Interlocked.Increment(ref s_nextId);

    /// <summary>A process-wide unique number that orders lock acquisition.</summary>
    public long Id { get; }

    /// <summary>
    /// The identity of an admitted acquire, from the sequence that numbers locks: drawn while the acquire holds its
    /// counters, it is larger than theirs and smaller than that of any counter created later.
    /// </summary>
    public static long NextAcquisitionId() => Interlocked.Increment(ref s_nextId);
}
