using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Fetches the pinned SNS signing certificates (<see cref="SesWebhookOptions.SigningCertificateUrls"/>) in the
/// background when the app starts, so that the first genuine message needs no fetch. It never delays or fails the
/// start: a certificate that cannot be had is logged once (3050) and fetched again when a message names it.
/// </summary>
internal sealed partial class SnsCertificateWarmUp(
    IOptions<EmailGuardWebhookOptions> options,
    SnsCertificateCache certificates,
    ILoggerFactory loggers) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _warming = Task.CompletedTask;
    private int _disposed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        SesWebhookOptions ses = options.Value.Ses;
        if (ses.Enabled && ses.SigningCertificateUrls.Count > 0)
        {
            _warming = Task.Run(() => WarmAsync(_stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A host may stop a service it has already disposed (an app stopped twice, a test host disposed twice): the
        // warm-up was cancelled by the disposal, and a stop must not throw from the host's shutdown.
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while this stop began: as above.
            return;
        }

        try
        {
            await _warming.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host's stop gave up waiting, or the warm-up was cancelled: nothing of it is needed any more.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Disposed without a stop (a provider disposed on its own): the warm-up still running stops too.
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        ILogger logger = loggers.CreateLogger("EmailGuard.AspNetCore.Feedback");
        try
        {
            foreach ((string url, string error) in await certificates.WarmAsync(cancellationToken).ConfigureAwait(false))
            {
                LogWarmUpFailed(logger, url, error);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A handler the app configured for the SNS client may throw anything; the start must not see it.
            LogWarmUpFailed(logger, string.Join(", ", options.Value.Ses.SigningCertificateUrls), exception.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 3050, EventName = "SnsCertificateWarmUpFailed", Level = LogLevel.Warning,
        Message = "The pinned SNS signing certificate {Url} (EmailGuard:Webhooks:Ses:SigningCertificateUrls) could not be fetched at startup: {Error}. It is fetched again when a message names it, past the bound on fetches; check the URL against the SigningCertURL of the topic's messages.")]
    private static partial void LogWarmUpFailed(ILogger logger, string url, string error);
}
