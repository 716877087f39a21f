namespace EmailGuard.Tests.State;

/// <summary>What <see cref="ControllableStateStore"/> does with a call.</summary>
internal enum StateStoreBehavior
{
    Answer,
    Hang,
    Throw,
}
