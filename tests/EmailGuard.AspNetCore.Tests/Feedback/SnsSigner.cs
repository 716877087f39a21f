using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Signs SNS messages as SNS does, with a certificate generated for the test: the string to sign is built here from
/// the AWS documentation, independently of the code under test.
/// </summary>
internal sealed class SnsSigner : IDisposable
{
    public const string DefaultCertUrl = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem";

    private readonly RSA _key = RSA.Create(2048);

    public SnsSigner(DateTimeOffset now)
    {
        var request = new CertificateRequest("CN=sns.amazonaws.com", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        Pem = certificate.ExportCertificatePem();
    }

    public string Pem { get; }

    public static Dictionary<string, string?> Notification(string message, string? messageId = null, string topicArn = WebhookTestApp.TopicArn, string? subject = null) => new()
    {
        ["Type"] = "Notification",
        ["MessageId"] = messageId ?? Guid.NewGuid().ToString(),
        ["TopicArn"] = topicArn,
        ["Subject"] = subject,
        ["Message"] = message,
        ["Timestamp"] = "2026-03-02T00:00:00.000Z",
        ["UnsubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    };

    public static Dictionary<string, string?> SubscriptionConfirmation(string subscribeUrl = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:ses-feedback&Token=2336412f37") => new()
    {
        ["Type"] = "SubscriptionConfirmation",
        ["MessageId"] = Guid.NewGuid().ToString(),
        ["Token"] = "2336412f37",
        ["TopicArn"] = WebhookTestApp.TopicArn,
        ["Message"] = "You have chosen to subscribe to the topic arn:aws:sns:eu-west-1:123456789012:ses-feedback.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        ["SubscribeURL"] = subscribeUrl,
        ["Timestamp"] = "2026-03-02T00:00:00.000Z",
    };

    /// <summary>Adds Signature, SignatureVersion and SigningCertURL.</summary>
    public Dictionary<string, string?> Sign(Dictionary<string, string?> message, int version = 2, string certUrl = DefaultCertUrl)
    {
        string[] order = message["Type"] == "Notification"
            ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
        var text = new StringBuilder();
        foreach (string name in order)
        {
            if (message.TryGetValue(name, out string? value) && value is not null)
            {
                text.Append(name).Append('\n').Append(value).Append('\n');
            }
        }

        byte[] signature = _key.SignData(
            Encoding.UTF8.GetBytes(text.ToString()),
            version == 1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        var signed = new Dictionary<string, string?>(message)
        {
            ["SignatureVersion"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Signature"] = Convert.ToBase64String(signature),
            ["SigningCertURL"] = certUrl,
        };
        return signed;
    }

    /// <summary>The JSON body SNS posts: fields that are null are left out, as SNS leaves out an absent Subject.</summary>
    public static StringContent Body(Dictionary<string, string?> message)
    {
        string json = JsonSerializer.Serialize(message.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value));
        return new StringContent(json, Encoding.UTF8, "text/plain");
    }

    public void Dispose() => _key.Dispose();
}
