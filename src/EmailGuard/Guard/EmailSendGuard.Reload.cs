namespace EmailGuard;

/// <summary>The caps' reload (<see cref="SendGuardReload"/>): what the guard applies, and how new caps come into force.</summary>
internal sealed partial class EmailSendGuard
{
    /// <summary>The options whose caps are in force: the start's, or those of the last reload taken.</summary>
    public SendGuardOptions Current => _reload?.Applied ?? _options;

    /// <summary>
    /// Puts <paramref name="caps"/> in force with one reference write: a check that read the old ones decides by them
    /// whole. The tenant limit cache's defaults follow, for its fallbacks after an invalidation.
    /// </summary>
    private void Apply(SendGuardCaps caps)
    {
        _caps = caps;
        _tenantLimits.Defaults = caps.Rules.Tenant;
    }
}
