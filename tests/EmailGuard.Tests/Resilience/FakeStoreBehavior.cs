namespace EmailGuard.Tests.Resilience;

/// <summary>What <see cref="FakeRateLimitStore"/> does with the next call.</summary>
public enum FakeStoreBehavior
{
    /// <summary>Decides with an in-memory store, asynchronously (as a network store would).</summary>
    Succeed,

    /// <summary>Returns a faulted task.</summary>
    Fail,

    /// <summary>Throws before returning a task.</summary>
    ThrowSynchronously,

    /// <summary>Returns a task that completes only when the test releases it.</summary>
    Hang,

    /// <summary>Decides from a cache in the process, without its server, as the Redis store denies a counter its over-limit cache holds.</summary>
    AnswerFromCache,
}
