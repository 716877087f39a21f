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
    }
}
