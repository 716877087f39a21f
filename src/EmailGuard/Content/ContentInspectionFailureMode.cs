namespace EmailGuard;

/// <summary>What a check does when the <see cref="IEmailContentInspector"/> throws or does not answer within its time budget.</summary>
/// <remarks>The zero value is <see cref="Deny"/>: a <see langword="default"/> value never lets unchecked content through.</remarks>
public enum ContentInspectionFailureMode
{
    /// <summary>Deny the message (<see cref="EmailSendReason.ContentRejected"/>) and give its permits back.</summary>
    Deny = 0,

    /// <summary>Send the message as if the inspector had allowed it; the failure is logged and counted.</summary>
    Allow = 1,
}
