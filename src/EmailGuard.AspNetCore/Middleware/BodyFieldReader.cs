using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Reads the fields a policy is keyed by from a form or JSON body, within a size limit, and rewinds the body so that
/// model binding downstream reads the same bytes.
/// </summary>
internal static class BodyFieldReader
{
    public readonly record struct Result(int StatusCode, string? Problem, string?[] Values)
    {
        public bool Succeeded => Problem is null;
    }

    public static async ValueTask<Result> ReadAsync(HttpContext context, string[] fieldNames, int maxBytes)
    {
        HttpRequest request = context.Request;
        string?[] values = new string?[fieldNames.Length];
        if (request.ContentLength is 0 || (request.ContentLength is null && !HasBody(request)))
        {
            return new(StatusCodes.Status200OK, null, values);
        }

        if (request.ContentLength > maxBytes)
        {
            return TooLarge(maxBytes, values);
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out MediaTypeHeaderValue? mediaType) || mediaType.MediaType.Length == 0)
        {
            return new(StatusCodes.Status415UnsupportedMediaType, "The Content-Type header is missing or malformed; send application/json or a form.", values);
        }

        bool json = mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase);
        bool urlEncoded = mediaType.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
        bool multipart = mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (!json && !urlEncoded && !multipart)
        {
            return new(StatusCodes.Status415UnsupportedMediaType, $"The Content-Type '{Truncate(mediaType.MediaType.Value)}' is not supported here; send application/json or a form.", values);
        }

        // Buffer in memory up to the limit, so the endpoint can read the body again after the policy has.
        request.EnableBuffering(bufferThreshold: maxBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes, 16 * 1024) + 1);
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, maxBytes + 1) - length), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    return TooLarge(maxBytes, values);
                }
            }

            request.Body.Position = 0;
            if (json)
            {
                return ReadJson(buffer.AsSpan(0, length), fieldNames, values);
            }

            return await ReadFormAsync(context, urlEncoded, buffer, length, fieldNames, values);
        }
        catch (BadHttpRequestException ex)
        {
            return new(ex.StatusCode, "The request body could not be read.", values);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Result ReadJson(ReadOnlySpan<byte> body, string[] fieldNames, string?[] values)
    {
        // System.Text.Json's deserializer accepts a UTF-8 byte order mark, so the endpoint would; the reader does not.
        if (body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            body = body[3..];
        }

        if (body.IsEmpty)
        {
            return new(StatusCodes.Status200OK, null, values);
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new(StatusCodes.Status400BadRequest, "The JSON body must be an object.", values);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                int index = Array.FindIndex(fieldNames, f => f.Equals(name, StringComparison.OrdinalIgnoreCase));
                if (index >= 0 && values[index] is null && reader.TokenType == JsonTokenType.String)
                {
                    values[index] = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }

            // Walking to the end rejects trailing garbage the endpoint's deserializer would also refuse.
            while (reader.Read())
            {
            }

            return new(StatusCodes.Status200OK, null, values);
        }
        catch (JsonException)
        {
            return new(StatusCodes.Status400BadRequest, "The request body is not valid JSON.", values);
        }
        catch (InvalidOperationException)
        {
            return new(StatusCodes.Status400BadRequest, "The request body is not valid JSON.", values);
        }
    }

    private static async ValueTask<Result> ReadFormAsync(HttpContext context, bool urlEncoded, byte[] buffer, int length, string[] fieldNames, string?[] values)
    {
        try
        {
            if (urlEncoded)
            {
                using var stream = new MemoryStream(buffer, 0, length, writable: false);
                using var reader = new FormReader(stream);
                Dictionary<string, Microsoft.Extensions.Primitives.StringValues> form = await reader.ReadFormAsync(context.RequestAborted);
                for (int i = 0; i < fieldNames.Length; i++)
                {
                    if (form.TryGetValue(fieldNames[i], out Microsoft.Extensions.Primitives.StringValues value) && value.Count > 0)
                    {
                        values[i] = value[0];
                    }
                }

                return new(StatusCodes.Status200OK, null, values);
            }

            // Multipart: the form feature caches what it parses, so model binding reuses it instead of re-reading.
            IFormCollection multipart = await context.Request.ReadFormAsync(context.RequestAborted);
            context.Request.Body.Position = 0;
            for (int i = 0; i < fieldNames.Length; i++)
            {
                if (multipart.TryGetValue(fieldNames[i], out Microsoft.Extensions.Primitives.StringValues value) && value.Count > 0)
                {
                    values[i] = value[0];
                }
            }

            return new(StatusCodes.Status200OK, null, values);
        }
        catch (InvalidDataException)
        {
            return new(StatusCodes.Status400BadRequest, "The form body is malformed or exceeds the form limits.", values);
        }
        catch (IOException)
        {
            return new(StatusCodes.Status400BadRequest, "The form body is malformed.", values);
        }
    }

    private static bool HasBody(HttpRequest request)
        => request.Headers.TransferEncoding.Count > 0 || request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    private static Result TooLarge(int maxBytes, string?[] values)
        => new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than the {maxBytes} bytes this endpoint reads.", values);

    private static string Truncate(string? value) => value is null ? string.Empty : value.Length <= 64 ? value : value[..64];
}
