using System.Text;
using System.Text.Json;

namespace EmailGuard.AspNetCore;

/// <summary>An SNS HTTP(S) message: its fields and the string SNS signed.</summary>
internal sealed class SnsEnvelope
{
    public const string Notification = "Notification";
    public const string SubscriptionConfirmation = "SubscriptionConfirmation";
    public const string UnsubscribeConfirmation = "UnsubscribeConfirmation";

    public required string Type { get; init; }

    public required string MessageId { get; init; }

    public required string TopicArn { get; init; }

    public required string Message { get; init; }

    public required string Timestamp { get; init; }

    public string? Subject { get; init; }

    public string? Token { get; init; }

    public string? SubscribeUrl { get; init; }

    public required string SignatureVersion { get; init; }

    public required string Signature { get; init; }

    public required string SigningCertUrl { get; init; }

    /// <summary>The envelope, or null with <paramref name="error"/> when a field that is signed or needed is missing.</summary>
    public static SnsEnvelope? Read(JsonElement root, out string? error, out bool unsigned)
    {
        unsigned = false;
        error = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "the body is not a JSON object";
            return null;
        }

        string? signature = WebhookJson.String(root, "Signature");
        string? version = WebhookJson.String(root, "SignatureVersion");
        string? certUrl = WebhookJson.String(root, "SigningCertURL");
        if (string.IsNullOrEmpty(signature) || string.IsNullOrEmpty(version) || string.IsNullOrEmpty(certUrl))
        {
            unsigned = true;
            error = "Signature, SignatureVersion or SigningCertURL is missing (is raw message delivery on?)";
            return null;
        }

        string? type = WebhookJson.String(root, "Type");
        string? messageId = WebhookJson.String(root, "MessageId");
        string? topicArn = WebhookJson.String(root, "TopicArn");
        string? message = WebhookJson.String(root, "Message");
        string? timestamp = WebhookJson.String(root, "Timestamp");
        if (type is null || messageId is null || topicArn is null || message is null || timestamp is null)
        {
            error = "Type, MessageId, TopicArn, Message or Timestamp is missing";
            return null;
        }

        var envelope = new SnsEnvelope
        {
            Type = type,
            MessageId = messageId,
            TopicArn = topicArn,
            Message = message,
            Timestamp = timestamp,
            Subject = WebhookJson.String(root, "Subject"),
            Token = WebhookJson.String(root, "Token"),
            SubscribeUrl = WebhookJson.String(root, "SubscribeURL"),
            SignatureVersion = version,
            Signature = signature,
            SigningCertUrl = certUrl,
        };
        if (type is SubscriptionConfirmation or UnsubscribeConfirmation && (envelope.Token is null || envelope.SubscribeUrl is null))
        {
            error = $"a {type} has no Token or SubscribeURL";
            return null;
        }

        if (type is not (Notification or SubscriptionConfirmation or UnsubscribeConfirmation))
        {
            error = $"'{type}' is not an SNS message type";
            return null;
        }

        return envelope;
    }

    /// <summary>The string SNS signs: <c>name\nvalue\n</c> pairs in the documented order for the message type.</summary>
    public byte[] StringToSign()
    {
        var text = new StringBuilder();
        void Add(string name, string value) => text.Append(name).Append('\n').Append(value).Append('\n');
        Add("Message", Message);
        Add("MessageId", MessageId);
        if (Type == Notification)
        {
            if (Subject is not null)
            {
                Add("Subject", Subject);
            }

            Add("Timestamp", Timestamp);
            Add("TopicArn", TopicArn);
            Add("Type", Type);
        }
        else
        {
            Add("SubscribeURL", SubscribeUrl!);
            Add("Timestamp", Timestamp);
            Add("Token", Token!);
            Add("TopicArn", TopicArn);
            Add("Type", Type);
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
