using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Reads the fields a policy is keyed by from a form or JSON body, within a size limit, and rewinds the body so that
/// model binding downstream reads the same bytes.
/// </summary>
internal static class BodyFieldReader
{
    public readonly record struct Result(int StatusCode, string? Problem, StringValues[] Values)
    {
        public bool Succeeded => Problem is null;
    }

    /// <summary>
    /// Reads every occurrence of each field: a JSON property named twice, or a form field repeated, yields two values,
    /// so that the caller can see what model binding would pick or join. An occurrence without a usable string (a
    /// JSON number, object or <see langword="null"/>) is a <see langword="null"/> value.
    /// </summary>
    public static async ValueTask<Result> ReadAsync(HttpContext context, string[] fieldNames, int maxBytes)
    {
        HttpRequest request = context.Request;
        var values = new StringValues[fieldNames.Length];
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

        // The media types the endpoint's binders read: minimal APIs take application/json and any +json; MVC also
        // text/json. Forms are read by the same form feature that binding reads, so they are decoded alike.
        bool json = mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.MediaType.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase);
        bool form = mediaType.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            || mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (!json && !form)
        {
            return new(StatusCodes.Status415UnsupportedMediaType, $"The Content-Type '{Truncate(mediaType.MediaType.Value)}' is not supported here; send application/json or a form.", values);
        }

        Encoding? jsonEncoding = null;
        if (json && !TryGetJsonEncoding(mediaType, out jsonEncoding))
        {
            return new(StatusCodes.Status415UnsupportedMediaType, $"The charset '{Truncate(mediaType.Charset.Value)}' is not supported here; send UTF-8.", values);
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

                int read = await request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, maxBytes + 1) - length), context.RequestAborted).ConfigureAwait(false);
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
                return jsonEncoding is null
                    ? ReadJson(buffer.AsSpan(0, length), fieldNames, values)
                    : ReadJson(Transcode(buffer.AsSpan(0, length), jsonEncoding), fieldNames, values);
            }

            return await ReadFormAsync(context, fieldNames, values).ConfigureAwait(false);
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

    /// <summary>
    /// The charset a JSON body declares, as the minimal-API reader honours it (MVC reads UTF-8 and UTF-16 and refuses
    /// the rest): null for UTF-8; false for a charset .NET does not know.
    /// </summary>
    private static bool TryGetJsonEncoding(MediaTypeHeaderValue mediaType, out Encoding? encoding)
    {
        encoding = null;
        StringSegment charset = mediaType.Charset;
        if (StringSegment.IsNullOrEmpty(charset) || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        try
        {
            encoding = Encoding.GetEncoding(HeaderUtilities.RemoveQuotes(charset).Value!);
        }
        catch (ArgumentException)
        {
            return false;
        }

        if (encoding.CodePage == Encoding.UTF8.CodePage)
        {
            encoding = null;
        }

        return true;
    }

    private static byte[] Transcode(ReadOnlySpan<byte> body, Encoding encoding)
    {
        string text = encoding.GetString(body);
        return Encoding.UTF8.GetBytes(text.StartsWith('\uFEFF') ? text[1..] : text);
    }

    private static Result ReadJson(ReadOnlySpan<byte> body, string[] fieldNames, StringValues[] values)
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
                // GetString unescapes, so "\u0065mail" is "email" here as it is to the deserializer, and the
                // comparison is the one System.Text.Json's case-insensitive binding (the web default) uses.
                string name = reader.GetString()!;
                reader.Read();
                int index = Array.FindIndex(fieldNames, f => f.Equals(name, StringComparison.OrdinalIgnoreCase));
                if (index < 0)
                {
                    reader.Skip();
                    continue;
                }

                values[index] = StringValues.Concat(values[index], ReadJsonValue(ref reader));
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

    /// <summary>A string is one value, an array of strings one value per element; anything else is an empty occurrence.</summary>
    private static StringValues ReadJsonValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return new StringValues(reader.GetString());
            case JsonTokenType.StartArray:
                var elements = new List<string?>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    elements.Add(reader.TokenType == JsonTokenType.String ? reader.GetString() : null);
                    reader.Skip();
                }

                return elements.Count == 0 ? EmptyOccurrence : new StringValues([.. elements]);
            default:
                reader.Skip();
                return EmptyOccurrence;
        }
    }

    private static async ValueTask<Result> ReadFormAsync(HttpContext context, string[] fieldNames, StringValues[] values)
    {
        try
        {
            // The form feature decodes the declared charset (UTF-16, UTF-32, Latin-1, …) and caches what it parsed,
            // so model binding reuses this very form instead of reading the body again: what is counted is what binds.
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            context.Request.Body.Position = 0;
            foreach (KeyValuePair<string, StringValues> pair in form)
            {
                for (int i = 0; i < fieldNames.Length; i++)
                {
                    if (FieldNameMatcher.Matches(pair.Key, fieldNames[i]))
                    {
                        values[i] = StringValues.Concat(values[i], pair.Value.Count == 0 ? EmptyOccurrence : pair.Value);
                    }
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

    /// <summary>One occurrence of the field without a usable value; <c>new StringValues(null)</c> would be none.</summary>
    private static StringValues EmptyOccurrence => new(new string?[] { null });

    private static bool HasBody(HttpRequest request)
        => request.Headers.TransferEncoding.Count > 0 || request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    private static Result TooLarge(int maxBytes, StringValues[] values)
        => new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than the {maxBytes} bytes this endpoint reads.", values);

    private static string Truncate(string? value) => value is null ? string.Empty : value.Length <= 64 ? value : value[..64];
}
