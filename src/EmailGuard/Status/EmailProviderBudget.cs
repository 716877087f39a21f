namespace EmailGuard;

/// <summary>
/// The provider's budget as an admin sees it: every rule of the global (provider) scope with its limit, use and
/// remainder in the current window, and, for the rules the fair share applies to, whether the budget is contended,
/// which tenants are active in the window, and each one's weight, share and use. Read by
/// <see cref="IEmailSendGuard.GetProviderBudgetAsync"/>, from the shared store, so every instance shows the same.
/// </summary>
public sealed class EmailProviderBudget
{
    internal EmailProviderBudget(IReadOnlyList<EmailProviderBudgetRule> rules, DateTimeOffset timestamp, bool isStoreAvailable, bool isFairShareEnabled)
    {
        Rules = rules;
        Timestamp = timestamp;
        IsStoreAvailable = isStoreAvailable;
        IsFairShareEnabled = isFairShareEnabled;
    }

    /// <summary>Gets the global rules in configuration order; empty when the store did not answer.</summary>
    public IReadOnlyList<EmailProviderBudgetRule> Rules { get; }

    /// <summary>Gets when the budget was read (the store's clock when it answered).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Gets whether the store answered.</summary>
    public bool IsStoreAvailable { get; }

    /// <summary>Gets whether <see cref="SendGuardOptions.FairShare"/> is on for at least one global rule.</summary>
    public bool IsFairShareEnabled { get; }
}
