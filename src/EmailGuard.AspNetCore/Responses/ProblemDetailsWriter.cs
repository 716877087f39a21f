using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Writes RFC 9457 problem details without going through a serializer or MVC.</summary>
internal static class ProblemDetailsWriter
{
    public static Task WriteAsync(
        HttpContext context, int status, string detail, long? retryAfterSeconds = null, string? policy = null, string? type = null, string? title = null)
    {
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/problem+json";
        using var stream = new MemoryStream(256);
        using (var writer = new Utf8JsonWriter(stream))
        {
            Write(writer, status, detail, retryAfterSeconds, policy, type, title);
        }

        response.ContentLength = stream.Length;
        return response.Body.WriteAsync(stream.GetBuffer(), 0, (int)stream.Length, context.RequestAborted);
    }

    /// <summary>The body <see cref="WriteAsync"/> writes, as bytes: what <see cref="RejectionBodyCache"/> keeps to answer a flood.</summary>
    public static byte[] Serialize(int status, string detail, long? retryAfterSeconds, string? policy)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, status, detail, retryAfterSeconds, policy, type: null, title: null);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(
        Utf8JsonWriter writer, int status, string detail, long? retryAfterSeconds, string? policy, string? type, string? title)
    {
        writer.WriteStartObject();
        writer.WriteString("type", type ?? TypeFor(status));
        writer.WriteString("title", title ?? TitleFor(status));
        writer.WriteNumber("status", status);
        writer.WriteString("detail", detail);
        if (retryAfterSeconds is { } seconds)
        {
            writer.WriteNumber("retryAfter", seconds);
        }

        if (policy is not null)
        {
            writer.WriteString("policy", policy);
        }

        writer.WriteEndObject();
    }

    public static string TypeFor(int status) => status switch
    {
        StatusCodes.Status429TooManyRequests => "https://www.rfc-editor.org/rfc/rfc6585#section-4",
        StatusCodes.Status503ServiceUnavailable => "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4",
        StatusCodes.Status413PayloadTooLarge => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14",
        StatusCodes.Status415UnsupportedMediaType => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.16",
        _ => "about:blank",
    };

    public static string TitleFor(int status) => status switch
    {
        StatusCodes.Status429TooManyRequests => "Too Many Requests",
        StatusCodes.Status503ServiceUnavailable => "Service Unavailable",
        StatusCodes.Status413PayloadTooLarge => "Content Too Large",
        StatusCodes.Status415UnsupportedMediaType => "Unsupported Media Type",
        StatusCodes.Status400BadRequest => "Bad Request",
        _ => ReasonPhrase(status),
    };

    private static string ReasonPhrase(int status)
    {
        string phrase = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return phrase.Length > 0 ? phrase : "Request Rejected";
    }
}
