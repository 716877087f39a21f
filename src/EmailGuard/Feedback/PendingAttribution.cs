namespace EmailGuard;

/// <summary>
/// The attribution of an admitted message, built only when someone reads <see cref="EmailSendDecision.Attribution"/>:
/// most checks are never attributed (no guarded sender, no feedback), and building it costs an object and a string.
/// The send id is drawn at the check and kept here as bits, so every read builds the same attribution.
/// </summary>
internal readonly struct PendingAttribution
{
    private readonly EmailSendGuard? _guard;
    private readonly OutboundEmail? _message;
    private readonly ulong _idHigh;
    private readonly uint _idLow;

    public PendingAttribution(EmailSendGuard guard, OutboundEmail message, ulong idHigh, uint idLow)
    {
        _guard = guard;
        _message = message;
        _idHigh = idHigh;
        _idLow = idLow;
    }

    /// <summary>The attribution, or null for a decision that has none (a peek, a denial).</summary>
    public EmailSendAttribution? Build() => _guard?.Attribute(_message!, _idHigh, _idLow);
}
