using System.Text.Json;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The copies of the fields a SendGrid event is read from. SendGrid echoes custom args as top-level keys beside its own
/// fields, so a custom arg named like one of them (<c>email</c>, <c>event</c>, <c>sg_event_id</c> ...) is a second copy,
/// and which copy is SendGrid's cannot be told. A field is certain when all its copies agree (one of them is SendGrid's),
/// ambiguous when they differ.
/// </summary>
internal sealed class SendGridEventFields
{
    /// <summary>
    /// The fields an event's recipient, type, ids and time are read from, <c>reason</c>, which says whether a drop
    /// suppresses its recipient, and <c>bounce_classification</c>, which says whether a bounce does.
    /// </summary>
    public static readonly string[] Names = ["email", "event", "type", "sg_event_id", "sg_message_id", "timestamp", "reason", "bounce_classification"];

    private readonly List<JsonElement>?[] _copies = new List<JsonElement>?[Names.Length];

    public SendGridEventFields(JsonElement item)
    {
        foreach (JsonProperty property in item.EnumerateObject())
        {
            int index = WebhookJson.Name(property) is { } name ? Array.IndexOf(Names, name) : -1;
            if (index >= 0)
            {
                (_copies[index] ??= []).Add(property.Value);
            }
        }
    }

    /// <summary>The first field the event holds more than once (a custom arg named like it), or null.</summary>
    public string? Repeated => Names.Where((_, i) => _copies[i] is { Count: > 1 }).FirstOrDefault();

    /// <summary>Whether the event holds <paramref name="name"/> more than once, with copies that differ.</summary>
    public bool Ambiguous(string name)
        => Copies(name) is { Count: > 1 } copies && copies.Skip(1).Any(c => !Same(c, copies[0]));

    /// <summary>The field's string value when it is certain (every copy that string); null when absent, ambiguous or not a string.</summary>
    public string? String(string name) => Certain(name) is { } value ? WebhookJson.Text(value) : null;

    /// <summary>
    /// The field's string value when it is certain, or when its copies differ but exactly one of them is a value SendGrid
    /// writes in that field (<paramref name="sendGridValues"/>): the others cannot be SendGrid's, so that one is. An app
    /// that names a custom arg <c>event</c> = <c>password_reset</c> for its own bookkeeping is read as SendGrid wrote it;
    /// a sender that names it <c>delivered</c> to pass off its bounces is not. Null when absent, not a string, or when
    /// no copy or several are such values.
    /// </summary>
    public string? Resolved(string name, string[] sendGridValues)
    {
        if (!Ambiguous(name))
        {
            return String(name);
        }

        string? found = null;
        foreach (string value in Strings(name))
        {
            if (Array.IndexOf(sendGridValues, value) >= 0)
            {
                if (found is not null)
                {
                    return null;
                }

                found = value;
            }
        }

        return found;
    }

    /// <summary>Whether the field's copies differ and <see cref="Resolved"/> cannot tell which is SendGrid's.</summary>
    public bool Uncertain(string name, string[] sendGridValues) => Ambiguous(name) && Resolved(name, sendGridValues) is null;

    /// <summary>The field's value when it is certain: its only copy, or one of copies that all agree.</summary>
    public JsonElement? Certain(string name) => Copies(name) is { Count: > 0 } copies && !Ambiguous(name) ? copies[0] : null;

    /// <summary>The distinct string values of the field's copies, in ordinal order.</summary>
    public string[] Strings(string name)
        => Copies(name) is { } copies
            ? [.. copies.Select(WebhookJson.Text).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]
            : [];

    private List<JsonElement>? Copies(string name) => _copies[Array.IndexOf(Names, name)];

    private static bool Same(JsonElement a, JsonElement b)
        => a.ValueKind == b.ValueKind
           && (a.ValueKind == JsonValueKind.String && WebhookJson.Text(a) is { } textA && WebhookJson.Text(b) is { } textB
               ? string.Equals(textA, textB, StringComparison.Ordinal)
               : string.Equals(a.GetRawText(), b.GetRawText(), StringComparison.Ordinal));
}
