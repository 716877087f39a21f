namespace EmailGuard.Tests.State;

/// <summary>What <see cref="ControllableStateStore"/> does with a call.</summary>
internal enum StateStoreBehavior
{
    Answer,
    Hang,

    /// <summary>Reads hang (the version, loads, change reads, events), writes answer: a store slow to read.</summary>
    HangReads,
    Throw,
}
