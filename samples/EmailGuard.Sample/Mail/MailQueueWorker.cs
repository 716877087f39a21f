namespace EmailGuard.Sample.Mail;

/// <summary>
/// Drains the mail queue in the background, one mail at a time and in order: each mail waits for the slot the guard
/// reserved for it at the provider's pace (<see cref="SampleMailer.DispatchQueuedAsync"/>), so a backlog of thousands
/// goes out as fast as the provider allows, with no retry loop and nothing dropped.
/// </summary>
internal sealed partial class MailQueueWorker(MailQueue queue, SampleMailer mailer, ILogger<MailQueueWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            QueuedMail mail;
            try
            {
                mail = await queue.DequeueAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await mailer.DispatchQueuedAsync(mail, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One bad mail must not stop the queue for every tenant.
                LogDispatchFailed(logger, ex, mail.Mail.Id);
            }
            finally
            {
                queue.MarkDispatched();
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Dispatching queued mail {MailId} failed.")]
    private static partial void LogDispatchFailed(ILogger logger, Exception exception, Guid mailId);
}
