namespace EmailGuard;

/// <summary>
/// Mail the provider never sent (<see cref="EmailFeedbackEvent.SuppressedByProvider"/>): the guard counted it as a send
/// when it admitted it, and the provider leaves it out of its own ratios. Left counted, it dilutes its parties' bounce and
/// complaint ratios: a tenant that mails addresses the provider has suppressed (an unsubscribe without a category
/// suppresses nothing here) adds sends that can never bounce. The event takes its send back off every counter the send
/// was counted under: all mail, tenant, tenant pool, user, sender, category and client network, their sequences of the
/// volume horizon, and the half-open probes. Taking sends back only raises ratios, so it can make a breaker trip sooner,
/// never lift one.
/// </summary>
/// <remarks>
/// <para>
/// The take-back is a refund of the send counters at the send's time, through the store's own refund: the window or
/// segment the send was counted in, never below zero, never creating a counter, at most once (it claims the event's
/// acquisition). The send's time is the tracked message id's, else the event's <see cref="EmailFeedbackEvent.SentAt"/>;
/// unknown, or later than now, it is now: the segment of now holds the latest sends, so the take-back errs on the side
/// of a higher ratio. A send whose segment has left the window is no longer counted, and nothing is taken back.
/// </para>
/// <para>
/// At most one take-back per mail: a mark keyed by the mail (<see cref="FeedbackKeys.TakenBack"/>) rides in the event's
/// own acquire, and only the event that counts it first takes the send back. An event that names neither a message id
/// nor a send id cannot be told from another event about another mail, and takes nothing back.
/// </para>
/// </remarks>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>The rule of the marks: a counter that lives as long as the longest window a send counts in.</summary>
    private static RateLimitRule TakeBackRule(EmailFeedbackOptions options, RateLimitRule? volume)
    {
        TimeSpan window = options.DeduplicationWindow > options.CountWindow ? options.DeduplicationWindow : options.CountWindow;
        if (volume is not null && volume.Window > window)
        {
            window = volume.Window;
        }

        return RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, window, SegmentsFor(window));
    }

    /// <summary>The mark of the mail an event about mail the provider never sent names; null when it names none.</summary>
    private static string? TakeBackKey(string provider, EmailFeedbackEvent feedback)
        => feedback.ProviderMessageId is null && feedback.Attribution?.SendId is null
            ? null
            : FeedbackKeys.TakenBack(provider, feedback.ProviderMessageId, feedback.Attribution?.SendId, feedback.Recipient);

    /// <summary>
    /// Takes the send of a mail the provider never sent back off its parties' counters (see the type's remarks), then
    /// judges them again: with the send gone their ratios may be over a line. Never throws for the store: a take-back
    /// that fails is logged (3159), and the send stays counted until it leaves the window.
    /// </summary>
    /// <param name="attribution">The parties the send was counted under; null for all mail only.</param>
    /// <param name="sentAt">When the send was counted, if known.</param>
    /// <param name="decision">The event's admitted acquire, whose acquisition the refund claims.</param>
    /// <param name="marks">The count of the mail's mark after the event's acquire: 1 for the first event about the mail.</param>
    /// <param name="shownProvider">The provider, for the logs.</param>
    /// <param name="shownEventId">The event id, for the logs.</param>
    private async ValueTask TakeBackSendAsync(
        EmailSendAttribution? attribution, DateTimeOffset? sentAt, RateLimitDecision decision, long marks, string shownProvider, string shownEventId)
    {
        if (marks != 1)
        {
            LogSendTakenBackBefore(_logger, shownProvider, shownEventId);
            return;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        DateTimeOffset countedAt = sentAt is { } sent && sent < now ? sent : now;
        List<(EmailGuardDimension Dimension, string? Partition)> parties = [.. Parties(attribution)];
        List<RateLimitRequest> requests = new(MaxSendCounts);
        long period = VolumeOn ? Period(countedAt) : 0;
        foreach ((EmailGuardDimension dimension, string? partition) in parties)
        {
            string key = FeedbackKeys.Count(FeedbackKeys.Sends, dimension, partition);
            requests.Add(new RateLimitRequest(key, _countRule));
            if (SequenceRequest(key, period) is { } sequence)
            {
                requests.Add(sequence);
            }
        }

        try
        {
            if (attribution is not null && Breakers is { } probes)
            {
                await probes.AddProbeTakeBacksAsync(attribution, sentAt, requests, CancellationToken.None).ConfigureAwait(false);
            }

            // The event's acquisition, dated to the send: the refund gives back in the segment the send was counted in,
            // and claims the acquisition, so no copy of this decision gives anything back twice.
            RateLimitDecision counted = new(RateLimitStatus.Allowed, -1, TimeSpan.Zero, countedAt, decision.AcquisitionId) { AdmittedLocally = decision.AdmittedLocally };
            if (!await _store.TryRefundAsync(requests.ToArray(), counted, CancellationToken.None).ConfigureAwait(false))
            {
                LogSendNotTakenBack(_logger, shownProvider, shownEventId, null);
                return;
            }
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            LogSendNotTakenBack(_logger, shownProvider, shownEventId, ex);
            return;
        }

        int counters = requests.Count;
        LogSendTakenBack(_logger, shownProvider, shownEventId, counters, countedAt);
        if (Breakers is { } breakers)
        {
            // With fewer sends, a party's bounces or complaints may now be over a line, as they would have been had the
            // mail never been counted: judged now, not only at the party's next failure.
            (EmailGuardDimension, string?)[] judged = [.. parties];
            await breakers.EvaluateAsync(attribution ?? s_unattributed, judged, complaint: false, sentAt, CancellationToken.None, failure: false).ConfigureAwait(false);
            await breakers.EvaluateAsync(attribution ?? s_unattributed, judged, complaint: true, sentAt, CancellationToken.None, failure: false).ConfigureAwait(false);
        }
    }
}
