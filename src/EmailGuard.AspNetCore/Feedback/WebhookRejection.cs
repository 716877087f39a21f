using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Why a webhook request was refused before anything was recorded.</summary>
internal enum WebhookRejectionKind
{
    /// <summary>Not a rejection.</summary>
    None = 0,

    /// <summary>The signature or credentials are missing.</summary>
    Unsigned,

    /// <summary>The signature or credentials do not match.</summary>
    BadSignature,

    /// <summary>The signed token was seen before.</summary>
    Replayed,

    /// <summary>The body is larger than the limit.</summary>
    Oversized,

    /// <summary>The body is not the provider's format.</summary>
    Malformed,

    /// <summary>The SNS topic is not in the allowlist.</summary>
    TopicNotAllowed,

    /// <summary>The SNS signing certificate URL is not https on an SNS host.</summary>
    UntrustedCertificateUrl,

    /// <summary>The SNS signing certificate could not be fetched; the provider should retry.</summary>
    CertificateUnavailable,

    /// <summary>The SNS subscription could not be confirmed; SNS should retry.</summary>
    ConfirmationFailed,

    /// <summary>The shared store of seen tokens did not answer; the provider should retry.</summary>
    ReplayMemoryUnavailable,
}

/// <summary>A refused webhook request: the kind, for logs and metrics, and a detail for the log line.</summary>
internal readonly record struct WebhookRejection(WebhookRejectionKind Kind, string Detail)
{
    public int StatusCode => Kind switch
    {
        WebhookRejectionKind.Oversized => StatusCodes.Status413PayloadTooLarge,
        WebhookRejectionKind.Malformed => StatusCodes.Status400BadRequest,
        WebhookRejectionKind.CertificateUnavailable or WebhookRejectionKind.ConfirmationFailed or WebhookRejectionKind.ReplayMemoryUnavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status401Unauthorized,
    };

    public string MetricName => Kind switch
    {
        WebhookRejectionKind.Unsigned => "unsigned",
        WebhookRejectionKind.BadSignature => "bad_signature",
        WebhookRejectionKind.Replayed => "replayed",
        WebhookRejectionKind.Oversized => "oversized",
        WebhookRejectionKind.Malformed => "malformed",
        WebhookRejectionKind.TopicNotAllowed => "topic_not_allowed",
        WebhookRejectionKind.UntrustedCertificateUrl => "untrusted_certificate_url",
        WebhookRejectionKind.CertificateUnavailable => "certificate_unavailable",
        WebhookRejectionKind.ConfirmationFailed => "confirmation_failed",
        WebhookRejectionKind.ReplayMemoryUnavailable => "replay_memory_unavailable",
        _ => "unknown",
    };

    public static WebhookRejection Malformed(string detail) => new(WebhookRejectionKind.Malformed, detail);
}
