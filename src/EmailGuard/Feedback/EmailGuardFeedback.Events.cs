namespace EmailGuard;

/// <summary>The feedback callbacks, raised after an event is recorded.</summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>The packages' observers of recorded events (<see cref="IEmailFeedbackObserver"/>).</summary>
    internal IEmailFeedbackObserver[] Observers { get; set; } = [];

    private async ValueTask RaiseAsync(
        EmailFeedbackEvent feedback, string recipient, EmailSendAttribution? attribution, EmailGuardListEntry? entry, string? category, CancellationToken cancellationToken)
    {
        if (Observers.Length > 0)
        {
            EmailFeedbackArguments observed = new() { Event = feedback, Attribution = attribution, Recipient = recipient };
            foreach (IEmailFeedbackObserver observer in Observers)
            {
                try
                {
                    await observer.OnRecordedAsync(observed, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogCallbackFailed(_logger, LogValue.Of(ex));
                }
            }
        }

        EmailFeedbackEvents events = _options.Events;
        Func<EmailFeedbackArguments, ValueTask>? callback = feedback.Kind switch
        {
            EmailFeedbackKind.Bounced => events.OnBounce,
            EmailFeedbackKind.Complained => events.OnComplaint,
            _ => null,
        };
        if (callback is not null)
        {
            await InvokeAsync(callback, new EmailFeedbackArguments { Event = feedback, Attribution = attribution, Recipient = recipient }).ConfigureAwait(false);
        }

        await RaiseSuppressedAsync(feedback, recipient, attribution, entry, category).ConfigureAwait(false);
    }

    /// <summary>Raises <see cref="EmailFeedbackEvents.OnSuppressed"/> for the blocklist entry an event's suppression made, if any.</summary>
    private async ValueTask RaiseSuppressedAsync(EmailFeedbackEvent feedback, string recipient, EmailSendAttribution? attribution, EmailGuardListEntry? entry, string? category)
    {
        if (entry is not null && _options.Events.OnSuppressed is { } onSuppressed)
        {
            await InvokeAsync(onSuppressed, new EmailSuppressionArguments
            {
                Event = feedback,
                Attribution = attribution,
                Recipient = recipient,
                Reason = entry.Reason,
                Category = category,
                Entry = entry,
            }).ConfigureAwait(false);
        }
    }

    private async ValueTask InvokeAsync<TArgs>(Func<TArgs, ValueTask> callback, TArgs arguments)
    {
        try
        {
            await callback(arguments).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogCallbackFailed(_logger, LogValue.Of(ex));
        }
    }
}
