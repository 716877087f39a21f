namespace EmailGuard;

/// <summary>
/// Message-id tracking: which parties a provider's message id belongs to, so that its feedback is charged to them
/// whatever tags the provider echoes.
/// </summary>
internal sealed partial class EmailGuardFeedback
{
    public ValueTask TrackAsync(string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default)
    {
        CheckId(providerMessageId, nameof(providerMessageId));
        ArgumentNullException.ThrowIfNull(attribution);
        NoteTracked(null);
        return TrackCoreAsync(FeedbackKeys.Message(providerMessageId), attribution, cancellationToken);
    }

    public ValueTask TrackForProviderAsync(string provider, string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default)
    {
        CheckId(providerMessageId, nameof(providerMessageId));
        ArgumentNullException.ThrowIfNull(attribution);
        if (!IsValidProvider(provider))
        {
            // The mail is with the provider already (a transport sets the name when it likes, even after the send):
            // throwing would give its permits back, or fail a send that happened. The id is every provider's then.
            NoteInvalidProvider(provider);
            return TrackAsync(providerMessageId, attribution, cancellationToken);
        }

        NoteTracked(provider);
        return TrackCoreAsync(FeedbackKeys.Message(provider, providerMessageId), attribution, cancellationToken);
    }

    /// <summary>
    /// Maps a message id to the send's parties. Mailgun takes a message's <c>Message-ID</c> for its id, which a customer
    /// whose headers the app passes through can set: the mapping replaced by the last send let a rogue tenant send its
    /// mail under one id and then one mail of a throwaway tenant under the same id, and every bounce of its mail, whatever
    /// tags the event echoed, was charged to the throwaway tenant while its own breaker stayed clear. The first send's
    /// mapping stays; a send of other parties under the same id marks it shared (<see cref="FeedbackKeys.Shared"/>), and
    /// feedback naming it is charged by the event's own tags. One call as before; a second one only on a collision.
    /// <para>
    /// The mapping carries the time of tracking, which dates the message's feedback for a half-open probe
    /// (<see cref="EmailFeedbackEvent.SentAt"/>). A send of the same parties under an id tracked before moves it forward:
    /// otherwise a half-open bot would send its probe mail under the <c>Message-ID</c> of a mail it sent before its trip,
    /// and its probe's bounces would read as that old mail's and never count in the probe.
    /// </para>
    /// </summary>
    private async ValueTask TrackCoreAsync(string key, EmailSendAttribution attribution, CancellationToken cancellationToken)
    {
        try
        {
            string value = FeedbackKeys.Serialize(attribution, _timeProvider.GetUtcNow());
            string? existing = await _mappings.GetOrAddAsync(key, value, _options.AttributionLifetime, "store a message-id mapping", cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                return;
            }

            if (SameParties(FeedbackKeys.Deserialize(existing), attribution))
            {
                existing = await RetimeAsync(key, existing, value, cancellationToken).ConfigureAwait(false);
                if (existing is null || SameParties(FeedbackKeys.Deserialize(existing), attribution))
                {
                    return;
                }
            }

            await _mappings.SetAsync(key, FeedbackKeys.Shared, _options.AttributionLifetime, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            // The mail is already with the provider: failing the send now would only make the app send it twice.
            LogTrackFailed(_logger, LogValue.Of(ex));
        }
    }

    /// <summary>
    /// Replaces a mapping of the same parties tracked earlier (or with no time: an older build's) by <paramref name="value"/>,
    /// only while it is still <paramref name="existing"/>: an unconditional write could overwrite the <see cref="FeedbackKeys.Shared"/>
    /// mark that a send of other parties wrote meanwhile. Returns what another send wrote in the moment the key was empty,
    /// if anything, for the caller to judge as a collision; null when the id is this send's now, or when another send
    /// changed the mapping first (it judged the collision itself).
    /// </summary>
    private async ValueTask<string?> RetimeAsync(string key, string existing, string value, CancellationToken cancellationToken)
    {
        if (FeedbackKeys.TrackedAt(existing) >= FeedbackKeys.TrackedAt(value)
            || !await _mappings.RemoveAsync(key, existing, "date a message-id mapping again", cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return await _mappings.GetOrAddAsync(key, value, _options.AttributionLifetime, "store a message-id mapping", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether a mapping names the same parties as <paramref name="attribution"/>, whatever the send: a queue's resend of one mail.</summary>
    private static bool SameParties(EmailSendAttribution? mapped, EmailSendAttribution attribution)
        => mapped is not null
           && string.Equals(mapped.TenantId, attribution.TenantId, StringComparison.Ordinal)
           && string.Equals(mapped.TenantPool, attribution.TenantPool, StringComparison.Ordinal)
           && string.Equals(mapped.UserId, attribution.UserId, StringComparison.Ordinal)
           && string.Equals(mapped.Sender, attribution.Sender, StringComparison.Ordinal)
           && string.Equals(mapped.Category, attribution.Category, StringComparison.Ordinal)
           && string.Equals(mapped.ClientNetwork, attribution.ClientNetwork, StringComparison.Ordinal);
}
