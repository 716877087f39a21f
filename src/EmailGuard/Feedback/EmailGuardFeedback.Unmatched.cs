using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Says so when feedback names a message id no tracked send has, while this process tracks sends: the transport then most
/// likely tracks the id in another form than the provider's events name it (a header's brackets, an SMTP reply's text, a
/// suffix), and every such event counts for all mail only, so no tenant, user, sender or category breaker sees it.
/// </summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>How often a provider's unmatched ids are logged at most.</summary>
    internal static readonly TimeSpan UnmatchedLogInterval = TimeSpan.FromHours(1);

    /// <summary>The most providers whose tracking and warnings are remembered (names come from the app and its routes).</summary>
    private const int MaxRememberedProviders = 64;

    /// <summary>Providers this process tracked a send for, with the last time an unmatched id of theirs was logged.</summary>
    private readonly ConcurrentDictionary<string, long> _trackedProviders = new(StringComparer.Ordinal);

    /// <summary>Whether this process tracked a send that named no provider.</summary>
    private volatile bool _trackedWithoutProvider;

    private void NoteTracked(string? provider)
    {
        if (provider is null)
        {
            _trackedWithoutProvider = true;
        }
        else if (!_trackedProviders.ContainsKey(provider))
        {
            Remember(provider);
        }
    }

    /// <summary>
    /// Remembers a provider within the bound. Called only for one not remembered yet: every send tracks, and a concurrent
    /// dictionary's count takes all its locks, while looking a key up takes none.
    /// </summary>
    private bool Remember(string provider)
        => _trackedProviders.Count < MaxRememberedProviders && (_trackedProviders.TryAdd(provider, long.MinValue) || _trackedProviders.ContainsKey(provider));

    /// <summary>
    /// Logs an id that found no tracked send, at most once per <see cref="UnmatchedLogInterval"/> per provider, and only
    /// while this process tracks sends (for that provider, or for any): an app that tracks nothing, or a webhook
    /// instance that sends nothing, has nothing to match and nothing to fix.
    /// </summary>
    private void NoteUnmatched(string provider, string messageId)
    {
        if (!_trackedProviders.TryGetValue(provider, out long last))
        {
            if (!_trackedWithoutProvider || !Remember(provider))
            {
                return;
            }

            last = _trackedProviders[provider];
        }

        long now = _timeProvider.GetTimestamp();
        if (last != long.MinValue && _timeProvider.GetElapsedTime(last, now) < UnmatchedLogInterval)
        {
            return;
        }

        if (_trackedProviders.TryUpdate(provider, now, last))
        {
            string shownProvider = LogValue.Of(provider), shownMessageId = LogValue.Of(messageId);
            LogUnmatched(_logger, shownProvider, shownMessageId, UnmatchedLogInterval);
        }
    }

    /// <summary>When an invalid provider name was last logged (<see cref="TimeProvider.GetTimestamp"/>), or <see cref="long.MinValue"/>.</summary>
    private long _invalidProviderLogged = long.MinValue;

    /// <summary>Logs a provider name a sent message's id could not be mapped under, at most once per <see cref="UnmatchedLogInterval"/>.</summary>
    private void NoteInvalidProvider(string? provider)
    {
        long last = Interlocked.Read(ref _invalidProviderLogged);
        long now = _timeProvider.GetTimestamp();
        if ((last == long.MinValue || _timeProvider.GetElapsedTime(last, now) >= UnmatchedLogInterval)
            && Interlocked.CompareExchange(ref _invalidProviderLogged, now, last) == last)
        {
            string shownProvider = LogValue.Of(Truncate(provider));
            LogInvalidProvider(_logger, shownProvider, MaxProviderLength, UnmatchedLogInterval);
        }
    }

    [LoggerMessage(EventId = 2985, EventName = "SentMessageProviderInvalid", Level = LogLevel.Warning,
        Message = "A sent message's provider was given as '{Provider}', which is not a provider name (1 to {MaxLength} lower-case ASCII letters, digits, '_' or '-', as the provider's feedback names it: 'ses', 'mailgun'); it was ignored, and the message id mapped for every provider's feedback. The message was sent and stays counted. Fix the value your transport sets in EmailSendContext.Current.Provider (or passes to TrackForProviderAsync). Logged at most once every {Interval}.")]
    private static partial void LogInvalidProvider(ILogger logger, string provider, int maxLength, TimeSpan interval);

    [LoggerMessage(EventId = 2978, EventName = "FeedbackMessageIdUnmatched", Level = LogLevel.Warning,
        Message = "Feedback from {Provider} names message id '{MessageId}', which no tracked send has, and carries no EmailGuard tags: it counts for all mail only, not for its tenant, user, sender or category. This app tracks sends, so its transport may track the id in another form than {Provider}'s events name it (docs/feedback.md says which form each provider's events name); a send older than the attribution lifetime, or from before tracking began, misses too. Logged at most once every {Interval} per provider.")]
    private static partial void LogUnmatched(ILogger logger, string provider, string messageId, TimeSpan interval);
}
