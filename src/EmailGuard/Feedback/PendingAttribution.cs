using System.Diagnostics;

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

    // The send counts in the low byte (at most EmailGuardFeedback.MaxSendCounts), the pool's number above them: a
    // decision stays within 256 bytes, which the JIT copies inline at every step that hands it on (RateLimitDecisionTests).
    private readonly int _countsAndPool;

    public PendingAttribution(EmailSendGuard guard, OutboundEmail message, ulong idHigh, uint idLow, int sendCounts, TenantPool? tenantPool)
    {
        Debug.Assert(sendCounts is >= 0 and <= byte.MaxValue, "The send counts fit in a byte.");
        _guard = guard;
        _message = message;
        _idHigh = idHigh;
        _idLow = idLow;
        _countsAndPool = sendCounts | ((tenantPool is null ? 0 : tenantPool.Index + 1) << 8);
    }

    /// <summary>The admitted message, or null for a decision that has none.</summary>
    public OutboundEmail? Message => _message;

    /// <summary>
    /// How many send counters of the ratio breakers the admission took in its own store call, so that a refund (a check
    /// whose mail the provider refused or the content inspector rejected, a cancelled reservation: nothing is sent)
    /// gives them back with the rest; 0 for an admission that took none (its send was counted on its own).
    /// </summary>
    public int SendCounts => _countsAndPool & 0xFF;

    /// <summary>
    /// The tenant pool the check decided with, as its <see cref="TenantPool.Index"/> + 1, or 0 for none: the pool its send
    /// was counted for, its refund gives back and its attribution names (<see cref="EmailSendGuard.PoolName"/>), so that a
    /// later lookup (an invalidation, a full limit cache) cannot count one send in a pool and its bounces in another.
    /// </summary>
    public int PoolNumber => _countsAndPool >>> 8;

    /// <summary>The attribution, or null for a decision that has none (a peek, a denial).</summary>
    public EmailSendAttribution? Build() => _guard?.Attribute(_message!, _idHigh, _idLow, _guard.PoolName(PoolNumber));
}
