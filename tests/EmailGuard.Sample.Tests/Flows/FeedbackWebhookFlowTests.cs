using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>The sample's feedback webhook as a provider reaches it: over HTTP, signed with the development key.</summary>
public sealed class FeedbackWebhookFlowTests : IAsyncLifetime
{
    private const string DevelopmentKey = "dev-only-mailgun-signing-key-not-a-secret";
    private SampleApp _app = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _app = SampleApp.Start();
        _client = new HttpClient { BaseAddress = _app.BaseAddress };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    private static string Complaint(string recipient, string key)
    {
        string timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(25));
        string signature = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(timestamp + token)));
        var body = new JsonObject
        {
            ["signature"] = new JsonObject { ["timestamp"] = timestamp, ["token"] = token, ["signature"] = signature },
            ["event-data"] = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString("N"),
                ["event"] = "complained",
                ["timestamp"] = long.Parse(timestamp, CultureInfo.InvariantCulture),
                ["recipient"] = recipient,
                ["message"] = new JsonObject { ["headers"] = new JsonObject { ["message-id"] = "m1@sample.emailguard.test" } },
                ["user-variables"] = new JsonObject(),
            },
        };
        return body.ToJsonString();
    }

    [Fact]
    public async Task SignedComplaint_SuppressesTheAddress()
    {
        HttpResponseMessage response = await _client.PostAsync("/emailguard/feedback/mailgun", new StringContent(Complaint("angry@example.com", DevelopmentKey), Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        EmailGuardListEntry? entry = await _app.Services.GetRequiredService<IEmailGuardLists>()
            .FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "angry@example.com");
        entry.Should().NotBeNull();
        entry!.Reason.Should().Be("complaint");
    }

    [Fact]
    public async Task ComplaintSignedWithAnotherKey_Answers401AndSuppressesNothing()
    {
        HttpResponseMessage response = await _client.PostAsync("/emailguard/feedback/mailgun", new StringContent(Complaint("friend@example.com", "guessed-key"), Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await _app.Services.GetRequiredService<IEmailGuardLists>()
            .FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "friend@example.com")).Should().BeNull();
    }

    [Fact]
    public async Task Production_HasNoFeedbackRoute()
    {
        await using SampleApp production = SampleApp.Start(environment: "Production");
        using var client = new HttpClient { BaseAddress = production.BaseAddress };

        HttpResponseMessage response = await client.PostAsync("/emailguard/feedback/mailgun", new StringContent("{}", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
