using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Wraps the application's Identity email sender: confirmation and reset mails, exactly the kind bots abuse, are
/// checked by the send guard (with the client IP of the current request when an <see cref="IHttpContextAccessor"/> is
/// registered), and refunded when the inner sender throws.
/// </summary>
internal sealed partial class GuardedIdentityEmailSender<TUser>(
    IEmailSender<TUser> inner,
    IEmailSendGuard guard,
    IdentityEmailGuardOptions<TUser> options,
    IHttpContextAccessor? httpContextAccessor,
    ILogger<GuardedIdentityEmailSender<TUser>> logger,
    IEmailGuardFeedback? feedback = null) : IEmailSender<TUser>
    where TUser : class
{
    public Task SendConfirmationLinkAsync(TUser user, string email, string confirmationLink)
        => SendAsync(user, email, options.ConfirmationCategory, () => inner.SendConfirmationLinkAsync(user, email, confirmationLink));

    public Task SendPasswordResetLinkAsync(TUser user, string email, string resetLink)
        => SendAsync(user, email, options.PasswordResetCategory, () => inner.SendPasswordResetLinkAsync(user, email, resetLink));

    public Task SendPasswordResetCodeAsync(TUser user, string email, string resetCode)
        => SendAsync(user, email, options.PasswordResetCategory, () => inner.SendPasswordResetCodeAsync(user, email, resetCode));

    private async Task SendAsync(TUser user, string email, string category, Func<Task> send)
    {
        HttpContext? context = httpContextAccessor?.HttpContext;
        OutboundEmail envelope = new()
        {
            To = [email],
            Sender = options.Sender,
            Category = category,
            UserId = options.UserId?.Invoke(user),
            TenantId = options.TenantId?.Invoke(user),
            ClientIp = context?.Connection.RemoteIpAddress,
        };

        EmailSendDecision decision = await guard.CheckAsync(envelope, context?.RequestAborted ?? CancellationToken.None).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            LogDenied(logger, category, decision.Reason, decision.Dimension);
            if (options.ThrowOnDenied)
            {
                throw new EmailSendDeniedException(decision);
            }

            return;
        }

        // The app's sender reads the tags from EmailSendContext.Current and reports the provider's id there.
        using EmailSendContext? sendContext = decision.Attribution is { } attribution ? EmailSendContext.Enter(attribution) : null;
        try
        {
            await send().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && context?.RequestAborted.IsCancellationRequested != true)
        {
            // Not on a cancellation: the app's sender may have handed the message over before it saw it, so a
            // cancelled send stays counted (as in the guarded sender). Nor once the client that asked for the mail
            // went away, whatever the app's sender threw: one that watches the request's abort token and wraps every
            // failure in its own exception would otherwise give a hang-up its permits back.
            await guard.RefundAsync(decision, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        if (sendContext?.ProviderMessageId is { Length: > 0 and <= 1024 } messageId && !string.IsNullOrWhiteSpace(messageId) && feedback is not null)
        {
            if (sendContext.Provider is { } provider)
            {
                await feedback.TrackForProviderAsync(provider, messageId, sendContext.Attribution, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await feedback.TrackAsync(messageId, sendContext.Attribution, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = 450, EventName = "IdentityMailDenied", Level = LogLevel.Information,
        Message = "The send guard denied an Identity {Category} mail: {Reason} ({Dimension}).")]
    private static partial void LogDenied(ILogger logger, string category, EmailSendReason reason, EmailGuardDimension dimension);
}
