namespace EmailGuard;

/// <summary>The denominator of the ratios: every admitted message counted against the parties its attribution names.</summary>
internal sealed partial class EmailGuardFeedback : IDisposable
{
    /// <summary>Stops the ratio breakers' recovery timers.</summary>
    public void Dispose() => Breakers?.Dispose();

    /// <summary>The ratio breakers, evaluated after each recorded hard bounce or complaint; null when none are registered.</summary>
    internal RatioBreaker? Breakers { get; set; }

    /// <summary>The counters store, for the half-open probes of the ratio breakers.</summary>
    internal ResilientRateLimitStore Store => _store;

    /// <summary>The key-value store, where the ratio breakers remember how often a party tripped.</summary>
    internal ResilientKeyValueStore Mappings => _mappings;

    /// <summary>The rolling window of the counts.</summary>
    internal TimeSpan CountWindow => _options.CountWindow;

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

        Breakers?.AddProbeSends(attribution, requests);

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
