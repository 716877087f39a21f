namespace EmailGuard;

/// <summary>The denominator of the ratios: every admitted message counted against the parties its attribution names.</summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>The ratio breakers, evaluated after each recorded hard bounce or complaint; null when none are registered.</summary>
    internal RatioBreaker? Breakers { get; set; }

    /// <summary>
    /// Counts an admitted message against every party its attribution names, the denominator of the ratios. Never
    /// throws: a store that does not answer loses the count, which only makes the ratios more cautious.
    /// </summary>
    internal void CountSend(EmailSendAttribution attribution)
    {
        List<RateLimitRequest> requests = new(6);
        foreach ((EmailGuardDimension dimension, string? partition) in Parties(attribution))
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.Sends, dimension, partition), _countRule));
        }

        RateLimitRequest[] batch = [.. requests];
        ValueTask<RateLimitDecision> pending = _store.AcquireAsync(batch, new RateLimitEntry[batch.Length], StoreFailureMode.FailOpen, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask<RateLimitDecision> pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogSendCountFailed(_logger, ex);
        }
    }
}
