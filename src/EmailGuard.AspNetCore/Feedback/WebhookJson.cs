using System.Globalization;
using System.Text.Json;

namespace EmailGuard.AspNetCore;

/// <summary>Small readers over provider JSON that tolerate unknown fields and wrong types.</summary>
internal static class WebhookJson
{
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };

    public static JsonDocument Parse(ReadOnlyMemory<byte> body) => JsonDocument.Parse(body, DocumentOptions);

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) ? Text(value) : null;

    /// <summary>
    /// A JSON string's value; null when it is not a string, or when it holds an escape that is no text (a lone surrogate,
    /// <c>"\ud800"</c>): System.Text.Json parses such a body and throws when the string is read, which made any caller's
    /// body a 500 and an error log (unsigned ones included, since the signature fields are read before they are checked),
    /// and a signed batch with one such value in any event was lost whole.
    /// </summary>
    public static string? Text(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A property's name; null when it holds an escape that is no text (see <see cref="Text"/>).</summary>
    public static string? Name(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public static JsonElement? Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    /// <summary>A string or a number as text, e.g. Postmark's numeric <c>ID</c>.</summary>
    public static string? Scalar(JsonElement element, string name) =>
        Property(element, name) is { } value
            ? value.ValueKind switch
            {
                JsonValueKind.String => Text(value),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    /// <summary>An event's <see cref="EmailFeedbackEvent.Detail"/>: the parts it has, in order, joined by spaces; null when it has none.</summary>
    public static string? Detail(params string?[] parts)
    {
        string text = string.Join(' ', parts.Where(p => !string.IsNullOrEmpty(p)));
        return text.Length == 0 ? null : text;
    }

    public static DateTimeOffset? Time(JsonElement element, string name) =>
        String(element, name) is { } text
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time)
            ? time
            : null;

    /// <summary>Unix seconds, whole or with a fraction (Mailgun sends <c>1521472262.908181</c>).</summary>
    public static DateTimeOffset? UnixSeconds(JsonElement element, string name) => UnixSeconds(Property(element, name));

    /// <summary>Unix seconds, whole or with a fraction, from a value already found; null when it is none.</summary>
    public static DateTimeOffset? UnixSeconds(JsonElement? value)
    {
        if (value is not { ValueKind: JsonValueKind.Number } number || !number.TryGetDouble(out double seconds)
            || double.IsNaN(seconds) || seconds < 0 || seconds > 253_402_300_799)
        {
            return null;
        }

        return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
    }

    /// <summary>The string values of an object's properties whose names start with EmailGuard's tag prefix.</summary>
    public static Dictionary<string, string>? Tags(JsonElement? container)
    {
        if (container is not { ValueKind: JsonValueKind.Object } obj)
        {
            return null;
        }

        Dictionary<string, string>? tags = null;
        foreach (JsonProperty property in obj.EnumerateObject())
        {
            if (Name(property) is not { } name || !name.StartsWith(EmailFeedbackTags.Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            // SES sends each tag as an array of values; the others send a string.
            JsonElement value = property.Value;
            if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0)
            {
                value = value[0];
            }

            if (Text(value) is { } text)
            {
                (tags ??= new(StringComparer.Ordinal))[name] = text;
            }
        }

        return tags;
    }
}
