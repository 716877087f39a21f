namespace EmailGuard;

/// <summary>
/// How the send guard calls the <see cref="IEmailContentInspector"/>, bound from
/// <c>EmailGuard:SendGuard:ContentInspection</c>.
/// </summary>
public sealed class ContentInspectionOptions
{
    /// <summary>
    /// Gets or sets the most a check waits for the inspector. Past it the inspector's token is cancelled, the check
    /// stops waiting and <see cref="FailureMode"/> decides; a slow classifier never stalls a send beyond this budget.
    /// </summary>
    /// <value>The default value is 2 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets what a check does when the inspector throws or times out.</summary>
    /// <value>The default value is <see cref="ContentInspectionFailureMode.Allow"/>: a classifier outage does not stop the app's mail.</value>
    public ContentInspectionFailureMode FailureMode { get; set; } = ContentInspectionFailureMode.Allow;
}
