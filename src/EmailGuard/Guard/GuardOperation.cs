namespace EmailGuard;

/// <summary>What a guard evaluation does with the counters once lists and flags have passed.</summary>
internal enum GuardOperation
{
    /// <summary>Reads them and takes nothing (<see cref="IEmailSendGuard.PeekAsync"/>).</summary>
    Peek = 0,

    /// <summary>Takes the permits now or denies (<see cref="IEmailSendGuard.CheckAsync"/>).</summary>
    Check = 1,

    /// <summary>Takes the permits at the earliest time within the maximum wait, or denies (<see cref="IEmailSendGuard.ReserveAsync"/>).</summary>
    Reserve = 2,
}
