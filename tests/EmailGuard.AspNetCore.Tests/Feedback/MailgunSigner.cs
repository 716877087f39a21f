using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>Builds Mailgun webhook bodies with the field names of Mailgun's event documentation, signed with a test key.</summary>
internal static class MailgunSigner
{
    public static JsonObject EventData(string @event, string recipient = "alice@example.com", string? severity = null, IReadOnlyDictionary<string, string>? userVariables = null, string? id = null)
    {
        var data = new JsonObject
        {
            ["id"] = id ?? "G9Bn5sl1TC6nu79C8C0bwg-" + Guid.NewGuid().ToString("N"),
            ["timestamp"] = 1772409600.908181,
            ["log-level"] = "error",
            ["event"] = @event,
            ["recipient"] = recipient,
            ["recipient-domain"] = recipient.Split('@')[1],
            ["reason"] = severity is null ? null : "bounce",
            ["delivery-status"] = new JsonObject { ["code"] = 550, ["message"] = "5.1.1 The email account that you tried to reach does not exist." },
            ["message"] = new JsonObject { ["headers"] = new JsonObject { ["message-id"] = "20260302000000.1.ABCDEF@mg.example.com", ["to"] = recipient, ["subject"] = "Welcome" } },
            ["tags"] = new JsonArray("signup"),
            ["user-variables"] = userVariables is null ? new JsonObject() : new JsonObject(userVariables.Select(v => KeyValuePair.Create(v.Key, (JsonNode?)JsonValue.Create(v.Value)))),
        };
        if (severity is not null)
        {
            data["severity"] = severity;
        }

        return data;
    }

    public static string Sign(JsonObject eventData, DateTimeOffset at, string key = WebhookTestApp.MailgunKey, string? token = null)
    {
        string timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        token ??= Convert.ToHexString(RandomNumberGenerator.GetBytes(25)).ToLowerInvariant();
        string signature = Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(timestamp + token))).ToLowerInvariant();
        var body = new JsonObject
        {
            ["signature"] = new JsonObject { ["timestamp"] = timestamp, ["token"] = token, ["signature"] = signature },
            ["event-data"] = eventData.DeepClone(),
        };
        return body.ToJsonString();
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static string With(string body, Action<JsonObject> change)
    {
        JsonObject root = JsonNode.Parse(body)!.AsObject();
        change(root);
        return root.ToJsonString(new JsonSerializerOptions());
    }
}
