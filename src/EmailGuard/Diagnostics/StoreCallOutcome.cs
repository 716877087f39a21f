namespace EmailGuard;

/// <summary>How one store call that reached the store ended.</summary>
internal enum StoreCallOutcome
{
    Success = 0,
    Error = 1,
    Timeout = 2,
}
