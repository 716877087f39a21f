namespace EmailGuard;

/// <summary>
/// The ban of a client network: one whose hard bounces (or complaints) reach
/// <see cref="EmailRatioBreakerOptions.NetworkBouncesToBan"/> goes on the shared blocklist for
/// <see cref="EmailRatioBreakerOptions.NetworkBanFor"/>, once over all instances. A count, not a ratio: mail the provider
/// never sent leaves it as it is. Networks too wide for the lists are left alone (<c>RatioBreaker.WideNetworks.cs</c>).
/// </summary>
internal sealed partial class RatioBreaker
{
    private async ValueTask BanIfOverAsync(EmailFeedbackCounts counts, bool complaint, EmailSendAttribution attribution, CancellationToken cancellationToken)
    {
        long bad = complaint ? counts.Complaints : counts.Bounces;
        if (_options.NetworkBouncesToBan == 0 || bad < _options.NetworkBouncesToBan || _lists is null || counts.Partition is not { } network)
        {
            return;
        }

        if (ListedNetworks.TooWide(EmailGuardListKind.Blocklist, network, network) is not null)
        {
            // The lists refuse it (a ban that wide refuses every client in it), and their refusal thrown from here ended
            // the event's evaluation before the account's breaker judged it.
            WarnTooWide(network);
            return;
        }

        string reason = complaint ? EmailGuardFlagReasons.ComplaintRate : EmailGuardFlagReasons.HighBounceRate;
        EmailGuardListEntry? existing = await _lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, network, cancellationToken).ConfigureAwait(false);
        if (existing is not null
            || !await ClaimAsync($"{KeyPrefix}n:{StoreKeyEncoding.Hash(network)}:t", s_tripClaimLifetime, "claim a client network's ban", cancellationToken).ConfigureAwait(false))
        {
            // Banned already, or being banned by the instance that claimed it: a burst spread over the instances bans it once.
            return;
        }

        EmailGuardListEntry entry = await _lists.AddAsync(
            EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, network, reason, _options.NetworkBanFor, By, cancellationToken).ConfigureAwait(false);
        await TrippedAsync(counts, reason, EmailRatioBreakerAction.NetworkBanned, entry.ExpiresAt ?? _time.GetUtcNow() + _options.NetworkBanFor, attribution).ConfigureAwait(false);
    }
}
