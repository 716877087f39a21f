using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Reads a request body whole, never more than a limit, before anything parses it.</summary>
internal static class WebhookBody
{
    /// <summary>The body, or null when it is larger than <paramref name="maxBytes"/>.</summary>
    public static async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is long declared && declared > maxBytes)
        {
            return null;
        }

        // A declared length sizes the buffer once; a chunked body grows it, up to one byte past the limit.
        int initial = request.ContentLength is long length ? (int)length + 1 : Math.Min(maxBytes + 1, 16 * 1024);
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
