namespace EmailGuard;

/// <summary>The caps' reload (<see cref="SendGuardReload"/>): what the guard applies, and how new caps come into force.</summary>
internal sealed partial class EmailSendGuard
{
    /// <summary>The options whose caps are in force: the start's, or those of the last reload taken.</summary>
    public SendGuardOptions Current => _reload?.Applied ?? _options;

    /// <summary>
    /// Puts <paramref name="caps"/> in force with one reference write: a check that read the old ones decides by them
    /// whole, the tenant limit cache's answers included, which a check reads with its caps' default tenant rules (the
    /// fallback of an invalidated tenant too: <see cref="TenantLimitAnswer.CappedByDefaults"/>).
    /// </summary>
    private void Apply(SendGuardCaps caps) => _caps = caps;
}
