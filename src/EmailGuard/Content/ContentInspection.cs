using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Calls the app's <see cref="IEmailContentInspector"/> within its time budget and turns what happened into the verdict
/// that decides the send: the inspector's own, or the failure mode's when it threw, timed out or answered nonsense.
/// Every verdict is counted and every non-allow logged.
/// </summary>
/// <remarks>
/// The wait is bounded through <see cref="BoundedCall"/>, so an inspector that ignores its token still cannot hold a
/// send past the budget; its token is cancelled at the budget too, so a well-behaved one stops its HTTP call.
/// </remarks>
internal sealed partial class ContentInspection(
    IEmailContentInspector inspector, ContentInspectionOptions options, TimeProvider timeProvider, ILogger logger, EmailGuardMetrics? metrics)
{
    public IEmailContentInspector Inspector => inspector;

    /// <summary>Inspects <paramref name="message"/>'s content.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled: the caller gave up.</exception>
    public async ValueTask<EmailContentVerdict> InspectAsync(OutboundEmail message, EmailContent content, CancellationToken cancellationToken)
    {
        TimeSpan timeout = options.Timeout;
        using CancellationTokenSource budget = new(timeout, timeProvider);
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, budget.Token);
        EmailContentVerdict verdict;
        try
        {
            ValueTask<EmailContentVerdict> pending = inspector.InspectAsync(new EmailContentInspectionArguments(message, content), linked.Token);
            verdict = await BoundedCall.WaitAsync(pending, timeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The wait may end before the linked source hears of the caller's cancellation; tell the inspector to stop
            // before the source is disposed, so an abandoned HTTP call does not run on.
            await StopAsync(linked).ConfigureAwait(false);
            throw;
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            // Either the wait ran out, or the inspector saw its budget token and gave up first: both are a timeout.
            await StopAsync(linked).ConfigureAwait(false);
            LogTimedOut(logger, timeout, options.FailureMode, LogValue.Of(message.TenantId) ?? None, LogValue.Of(message.UserId) ?? None);
            return Fail("timeout");
        }
        catch (Exception exception)
        {
            LogFailed(logger, LogValue.Of(exception), options.FailureMode, LogValue.Of(message.TenantId) ?? None, LogValue.Of(message.UserId) ?? None);
            return Fail("error");
        }

        if (!Enum.IsDefined(verdict.Kind) || (verdict.Kind == EmailContentVerdictKind.Flag && string.IsNullOrWhiteSpace(verdict.Reason)))
        {
            LogInvalidVerdict(logger, verdict.Kind, options.FailureMode);
            return Fail("error");
        }

        Record(verdict.Kind, "inspected");
        return verdict;
    }

    private static async ValueTask StopAsync(CancellationTokenSource linked)
    {
        try
        {
            await linked.CancelAsync().ConfigureAwait(false);
        }
        catch (AggregateException)
        {
            // An inspector's cancellation callback threw; it was abandoned either way.
        }
    }

    private EmailContentVerdict Fail(string outcome)
    {
        EmailContentVerdict verdict = options.FailureMode == ContentInspectionFailureMode.Allow
            ? EmailContentVerdict.Allow
            : EmailContentVerdict.Deny(outcome == "timeout" ? "content inspection timed out" : "content inspection failed");
        Record(verdict.Kind, outcome);
        return verdict;
    }

    private void Record(EmailContentVerdictKind kind, string outcome)
        => metrics?.RecordContentVerdict(
            kind switch
            {
                EmailContentVerdictKind.Allow => "allow",
                EmailContentVerdictKind.Flag => "flag",
                _ => "deny",
            },
            outcome);
}
