namespace EmailGuard.Testing.Stores;

/// <summary>A store written before <see cref="IEmailGuardStateStore.LoadChangesAsync"/>: it answers no changes, so every catch-up loads whole.</summary>
/// <param name="inner">The store calls go to.</param>
public sealed class NoChangesStateStore(IEmailGuardStateStore inner) : ForwardingStateStore(inner)
{
    /// <inheritdoc />
    public override ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        => new((EmailGuardStateChanges?)null);
}
