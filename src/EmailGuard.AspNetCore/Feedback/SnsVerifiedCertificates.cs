using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The SNS signing certificate URLs that verified a message from an allowed topic on any instance, kept in the shared
/// <see cref="IEmailGuardKeyValueStore"/> (Redis when the app has it) for <see cref="SesWebhookOptions.CertificateCacheLifetime"/>,
/// under a hash of the URL. Only a verified message writes one, so a fresh instance can trust a URL another instance
/// verified as it trusts one it verified itself: fetch it past the bound that a flood of messages naming fresh URLs fills.
/// </summary>
/// <remarks>
/// Every call is bounded by <see cref="StoreResilienceOptions.Timeout"/> and never throws but for the caller's
/// cancellation: a store that fails or hangs reads as "not verified elsewhere", the instance falls back to its own
/// bound (503, which SNS retries), and the failure is logged once (3051) until the store answers again.
/// </remarks>
internal sealed partial class SnsVerifiedCertificates(
    IEmailGuardKeyValueStore store,
    TimeSpan storeTimeout,
    TimeSpan lifetime,
    TimeProvider time,
    ILogger logger)
{
    /// <summary>The prefix of the keys: <c>sns-certificate:</c> and the hash of the certificate's URL.</summary>
    internal const string KeyPrefix = "sns-certificate:";

    private const string Verified = "verified";

    private int _failing;

    public static string KeyOf(Uri url) => KeyPrefix + StoreKeyEncoding.Hash(url.AbsoluteUri);

    /// <summary>Whether the certificate at <paramref name="url"/> verified a message on some instance; false when the store cannot say.</summary>
    public async ValueTask<bool> ContainsAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            string? value = await BoundedCall.WaitAsync(store.GetAsync(KeyOf(url), cancellationToken), storeTimeout, time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _failing, 0);
            return value is not null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Failed("read", exception);
            return false;
        }
    }

    /// <summary>Records that the certificate at <paramref name="url"/> verified a message; false when the store did not take it.</summary>
    public async ValueTask<bool> AddAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            await BoundedCall.WaitAsync(store.SetAsync(KeyOf(url), Verified, lifetime, cancellationToken), storeTimeout, time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _failing, 0);
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Failed("written", exception);
            return false;
        }
    }

    private void Failed(string what, Exception exception)
    {
        // Once per outage: a flood beyond the bound reads the store at every message.
        if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            LogStoreFailed(logger, what, exception.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 3051, EventName = "SnsVerifiedCertificatesUnavailable", Level = LogLevel.Warning,
        Message = "The shared record of verified SNS signing certificates could not be {What} ({Error}): until the key-value store answers, this instance knows only the certificates it verified or pinned itself, and while a flood holds its fetch slots, a message naming another is answered 503 (SNS retries it). Logged once until the store answers again.")]
    private static partial void LogStoreFailed(ILogger logger, string what, string error);
}
