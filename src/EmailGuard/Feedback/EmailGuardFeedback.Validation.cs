using System.Diagnostics.CodeAnalysis;

namespace EmailGuard;

/// <summary>What an event, a provider name or an id must be: an app's mistake is an <see cref="ArgumentException"/> naming it.</summary>
internal sealed partial class EmailGuardFeedback
{
    private (string Provider, string Recipient) Validate(EmailFeedbackEvent feedback)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        string provider = feedback.Provider;
        CheckProvider(provider, nameof(feedback));

        CheckId(feedback.ProviderEventId, "feedback.ProviderEventId");
        if (feedback.ProviderMessageId is not null)
        {
            CheckId(feedback.ProviderMessageId, "feedback.ProviderMessageId");
        }

        if (feedback.Kind is not (EmailFeedbackKind.Delivered or EmailFeedbackKind.Bounced or EmailFeedbackKind.Complained or EmailFeedbackKind.Unsubscribed))
        {
            throw new ArgumentException($"Kind must be Delivered, Bounced, Complained or Unsubscribed; it was {feedback.Kind}.", nameof(feedback));
        }

        if (feedback.Kind == EmailFeedbackKind.Bounced
            ? feedback.BounceType is not (EmailBounceType.Permanent or EmailBounceType.Transient or EmailBounceType.Undetermined)
            : feedback.BounceType != EmailBounceType.None)
        {
            throw new ArgumentException(
                $"BounceType must be Permanent, Transient or Undetermined (when the provider does not say) for a bounce, and None otherwise; it was {feedback.BounceType} for {feedback.Kind}.",
                nameof(feedback));
        }

        if (feedback.SuppressedByProvider
            && !(feedback.Kind is EmailFeedbackKind.Complained or EmailFeedbackKind.Unsubscribed
                 || (feedback.Kind == EmailFeedbackKind.Bounced && feedback.BounceType == EmailBounceType.Permanent)))
        {
            throw new ArgumentException(
                $"SuppressedByProvider says which suppression list the provider found the address on: the Kind must be a Permanent bounce, a complaint or an unsubscribe; it was {feedback.Kind} ({feedback.BounceType}).",
                nameof(feedback));
        }

        if (feedback.RejectedForMessage && (feedback.Kind != EmailFeedbackKind.Bounced || feedback.SuppressedByProvider))
        {
            throw new ArgumentException(
                $"RejectedForMessage says a bounce is about the message, not the address: the Kind must be Bounced and SuppressedByProvider false (a provider's suppression list is about the address); it was {feedback.Kind} (suppressed by the provider: {feedback.SuppressedByProvider}).",
                nameof(feedback));
        }

        if (feedback.Category is { Length: > MaxCategoryLength })
        {
            throw new ArgumentException($"Category must be at most {MaxCategoryLength} characters long.", nameof(feedback));
        }

        if (!EmailAddressNormalizer.TryNormalize(feedback.Recipient, _normalization, out NormalizedEmailAddress recipient, out string? error))
        {
            throw new ArgumentException($"Recipient is not a valid address: {error}", nameof(feedback));
        }

        return (provider, recipient.Address);
    }

    private static void CheckId(string? id, string name)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > MaxIdLength)
        {
            throw new ArgumentException($"{name} must be 1 to {MaxIdLength} characters, not blank.", name);
        }
    }

    /// <summary>
    /// Whether <paramref name="provider"/> is a valid provider name: 1 to 32 lower-case ASCII letters, digits, <c>_</c> or
    /// <c>-</c>, as <see cref="EmailFeedbackEvent.Provider"/> must be.
    /// </summary>
    private static bool IsValidProvider([NotNullWhen(true)] string? provider)
        => !string.IsNullOrEmpty(provider) && provider.Length <= MaxProviderLength
           && provider.All(static c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-');

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="name"/> when <paramref name="provider"/> is not a valid provider name.</summary>
    private static void CheckProvider(string? provider, string name)
    {
        if (!IsValidProvider(provider))
        {
            throw new ArgumentException(
                $"Provider must be 1 to {MaxProviderLength} lower-case ASCII letters, digits, '_' or '-', such as 'ses'; it was '{LogValue.Of(Truncate(provider))}'.", name);
        }
    }

    private static string Truncate(string? text) => text is null ? "(null)" : text.Length <= 40 ? text : text[..40] + "…";
}
