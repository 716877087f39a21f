namespace EmailGuard;

/// <summary>Registered once by <c>AddSendGuard()</c> so that calling it again only adds configuration.</summary>
internal sealed class SendGuardMarkerService;
