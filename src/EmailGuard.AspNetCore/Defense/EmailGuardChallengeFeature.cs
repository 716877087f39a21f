namespace EmailGuard.AspNetCore;

/// <summary>The plain <see cref="IEmailGuardChallengeFeature"/>.</summary>
/// <param name="passed">Whether the request passed the challenge.</param>
public sealed class EmailGuardChallengeFeature(bool passed) : IEmailGuardChallengeFeature
{
    /// <inheritdoc/>
    public bool Passed { get; } = passed;
}
