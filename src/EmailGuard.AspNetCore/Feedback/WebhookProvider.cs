using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>One provider's webhook: verifies a request and turns it into per-recipient feedback events.</summary>
internal abstract class WebhookProvider
{
    /// <summary>The provider's name: the route segment and <see cref="EmailFeedbackEvent.Provider"/>.</summary>
    public abstract string Name { get; }

    /// <summary>Checks what the headers alone can tell, before the body is read (credentials in the URL).</summary>
    public virtual WebhookRejection? CheckHeaders(HttpContext context) => null;

    /// <summary>
    /// Verifies the body and reads its events. Throws <see cref="System.Text.Json.JsonException"/> for a body that is not
    /// JSON; everything else that is wrong comes back as a rejection.
    /// </summary>
    public abstract ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);
}
