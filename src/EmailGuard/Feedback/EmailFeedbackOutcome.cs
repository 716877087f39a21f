namespace EmailGuard;

/// <summary>What recording a feedback event did.</summary>
public enum EmailFeedbackOutcome
{
    /// <summary>Nothing was recorded.</summary>
    None = 0,

    /// <summary>The event was new and was recorded.</summary>
    Recorded = 1,

    /// <summary>The event had been recorded before (same provider and event id); nothing changed.</summary>
    Duplicate = 2,

    /// <summary>The store could not be reached within its timeout; nothing was recorded, and the provider should retry.</summary>
    StoreUnavailable = 3,
}
