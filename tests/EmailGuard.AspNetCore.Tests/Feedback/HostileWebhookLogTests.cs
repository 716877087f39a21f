using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// A webhook body is written by whoever can reach the endpoint or the provider's account, and its record types, event
/// ids and topics reach log lines. A record type of "x\r\nwarn: EmailGuard[2001] ..." used to forge a second line in a
/// plain-text log, and one of 20,000 chars wrote a 20 KB line per request. Both are now escaped and bounded.
/// </summary>
public sealed class HostileWebhookLogTests : IAsyncLifetime
{
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())));
    }

    public Task DisposeAsync() => _app.DisposeAsync().AsTask();

    private Task<HttpResponseMessage> PostPostmarkAsync(string recordType)
    {
        // The record type as JSON text: the escapes below decode to CR, LF, ESC and U+2028 in the parsed value.
        string body = $$"""{ "RecordType": "{{recordType}}", "MessageID": "m-1" }""";
        return _app.SendAsync(WebhookTestApp.PostmarkRequest(body));
    }

    [Fact]
    public async Task Postmark_RecordTypeForgingALine_IsLoggedOnOneLine()
    {
        HttpResponseMessage response = await PostPostmarkAsync(@"Open\r\nwarn: EmailGuard[2001] Store unavailable\u001b[2J\u2028x");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        FakeLogRecord ignored = _app.LogsWithId(1756).Should().ContainSingle().Subject;
        ignored.Message.Should().NotContainAny("\r", "\n", "\u001B", "\u2028");
        ignored.Message.Should().Contain(@"Open\u000D\u000Awarn: EmailGuard[2001] Store unavailable\u001B[2J\u2028x");
    }

    [Fact]
    public async Task Postmark_RecordTypeOf20000Chars_LogsAtMostTheBoundAndTheMarker()
    {
        HttpResponseMessage response = await PostPostmarkAsync(new string('x', 20_000));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        string message = _app.LogsWithId(1756).Should().ContainSingle().Subject.Message;
        message.Should().Contain(new string('x', 256) + "...[truncated, 20000 chars]");
        message.Should().NotContain(new string('x', 257));
    }
}
