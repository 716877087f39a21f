using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Reads a request body whole, never more than a limit, before anything parses it.</summary>
internal static class WebhookBody
{
    /// <summary>The first buffer's size at most; most webhooks (one event) fit, and a batch doubles it as it arrives.</summary>
    internal const int InitialBytes = 16 * 1024;

    /// <summary>The body, or null when it is larger than <paramref name="maxBytes"/>.</summary>
    public static async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is long declared && declared > maxBytes)
        {
            return null;
        }

        // The buffer grows with what arrives, up to one byte past the limit. A declared length only caps the first size:
        // sizing the buffer by it let a caller that sends headers and no body (the routes read before they verify)
        // take MaxBodyBytes of memory per connection, for free.
        int initial = (int)Math.Min(request.ContentLength is long length ? length + 1 : long.MaxValue, Math.Min(maxBytes + 1, InitialBytes));
        byte[] buffer = new byte[Math.Max(initial, 1)];
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length > maxBytes)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, (long)maxBytes + 1));
            }

            int read = await request.Body.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
            if (total > maxBytes)
            {
                return null;
            }
        }

        return buffer.AsMemory(0, total);
    }
}
