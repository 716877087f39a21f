using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// One page per condition and period across the instances, for the alerts every instance raises of the same incident
/// (<see cref="EmailGuardAlert.OncePerFleet"/>: the limit spikes, which each instance counts in its own memory): before
/// such an alert is sent, the instance claims its condition in the shared key-value store for one
/// <see cref="EmailGuardAlertOptions.Period"/>. The first instance to claim sends it; the others count it as suppressed.
/// </summary>
/// <remarks>
/// A claim is made by the dispatcher in the background, never by the request that raised the alert, and waits at most
/// <see cref="StoreResilienceOptions.Timeout"/>. A store that fails or does not answer sends the alert anyway (logged,
/// 3001): two pages of one spike are better than none. The instance's own claim does not stop it, so one instance alone
/// pages as it did before.
/// <para>
/// A claim whose alert reached no sink (every sink failed every attempt) is released (<see cref="ReleaseAsync"/>, logged,
/// 3017): the page did not go out, so the next instance to raise the condition must not be silenced by it. The claim
/// holds this instance's <see cref="InstanceId"/>, and the release removes it only while it still holds that
/// (<see cref="IEmailGuardKeyValueStore.RemoveAsync"/>, atomic on every store): a claim that expired meanwhile and was
/// taken by another instance stays theirs, so no third instance pages the condition again.
/// </para>
/// </remarks>
internal sealed partial class AlertClaims(
    IEmailGuardKeyValueStore store, IOptions<EmailGuardAlertOptions> options, IOptions<StoreResilienceOptions> resilience, TimeProvider timeProvider, ILogger<AlertClaims> logger)
{
    private const string KeyPrefix = "emailguard:alerts:once:";

    private readonly TimeSpan _period = options.Value.Period;
    private readonly TimeSpan _timeout = resilience.Value.Timeout;

    /// <summary>This instance's id in its claims: 32 hexadecimal digits, new at every start.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>Whether this instance sends <paramref name="alert"/>: it needs no claim, it won the claim, or the store could not say.</summary>
    public async ValueTask<bool> ShouldSendAsync(EmailGuardAlert alert, CancellationToken cancellationToken)
    {
        if (!alert.OncePerFleet)
        {
            return true;
        }

        string? holder;
        try
        {
            holder = await store.GetOrAddAsync(Key(alert.Condition), InstanceId, _period, cancellationToken).AsTask()
                .WaitAsync(_timeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.ClaimFailed(logger, alert.Kind, ex.GetType().Name);
            return true;
        }

        if (holder is null || string.Equals(holder, InstanceId, StringComparison.Ordinal))
        {
            return true;
        }

        Log.SentByAnotherInstance(logger, alert.Kind);
        return false;
    }

    /// <summary>
    /// Gives up this instance's claim of <paramref name="alert"/>'s condition after the alert reached no sink, so that the
    /// next instance to raise it sends it. A claim another instance holds now (this one's expired meanwhile) is left alone;
    /// a store that fails or does not answer leaves the claim to expire with its period (logged, 3017).
    /// </summary>
    public async ValueTask ReleaseAsync(EmailGuardAlert alert, CancellationToken cancellationToken)
    {
        if (!alert.OncePerFleet)
        {
            return;
        }

        try
        {
            if (await store.RemoveAsync(Key(alert.Condition), InstanceId, cancellationToken).AsTask()
                .WaitAsync(_timeout, timeProvider, cancellationToken).ConfigureAwait(false))
            {
                Log.Released(logger, alert.Kind, null);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.Released(logger, alert.Kind, ex.GetType().Name);
        }
    }

    /// <summary>The condition's key: hashed, since a condition may hold what a key may not (spaces, non-ASCII, over 256 characters).</summary>
    private static string Key(string condition)
        => KeyPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(condition)));

    private static partial class Log
    {
        [LoggerMessage(EventId = 3000, EventName = "AlertSentByAnotherInstance", Level = LogLevel.Information,
            Message = "A {Kind} alert was not sent: another instance sent one of its condition within the period.")]
        public static partial void SentByAnotherInstance(ILogger logger, string kind);

        [LoggerMessage(EventId = 3001, EventName = "AlertClaimFailed", Level = LogLevel.Warning,
            Message = "Whether another instance sent a {Kind} alert could not be read from the store ({ErrorType}); it is sent from this instance too.")]
        public static partial void ClaimFailed(ILogger logger, string kind, string errorType);

        [LoggerMessage(EventId = 3017, EventName = "AlertClaimReleased", Level = LogLevel.Warning,
            Message = "A {Kind} alert this instance claimed reached no sink; its claim is given up so that another instance's alert of the condition goes out (a store error, if any, leaves the claim to expire: {ErrorType}).")]
        public static partial void Released(ILogger logger, string kind, string? errorType);
    }
}
