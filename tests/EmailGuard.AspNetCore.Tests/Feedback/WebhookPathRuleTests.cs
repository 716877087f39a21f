using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>Path rules against EmailGuard's own feedback webhooks, mapped in an app that runs the endpoint middleware.</summary>
public sealed class WebhookPathRuleTests
{
    private const string ProviderIp = "198.51.100.7";

    private static async Task<(TestApp App, RecordingFeedback Feedback)> StartAsync(string endpoint)
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Dictionary<string, string?> configuration = WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo()));
        configuration["EmailGuard:Endpoints:PathRules:0:Endpoint"] = endpoint;
        configuration["EmailGuard:Endpoints:PathRules:0:Limit"] = "1";
        configuration["EmailGuard:Endpoints:PathRules:0:Window"] = "00:01:00";
        var feedback = new RecordingFeedback();
        TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddEmailGuard().AddEndpointPolicies().AddFeedbackWebhooks();
                s.AddSingleton<IEmailGuardFeedback>(feedback);
            },
            a =>
            {
                a.MapEmailGuardFeedback(WebhookTestApp.Prefix);
                a.MapPost("/api/other", () => Results.Ok());
            },
            configuration);
        return (app, feedback);
    }

    private static async Task<int> PostSignedMailgunAsync(TestApp app, int times)
    {
        int ok = 0;
        for (int i = 0; i < times; i++)
        {
            string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), app.Time.GetUtcNow());
            using HttpResponseMessage response = await app.PostAsync($"{WebhookTestApp.Prefix}/mailgun", ProviderIp, MailgunSigner.Json(body));
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return ok;
    }

    [Theory]
    [InlineData("*")]
    [InlineData("POST:*")]
    [InlineData("POST:/emailguard/*")]
    [InlineData("*:/emailguard/feedback/*")]
    public async Task WildcardRule_BurstFromOneProviderIp_EveryDeliveryRecorded(string endpoint)
    {
        (TestApp app, RecordingFeedback feedback) = await StartAsync(endpoint);
        await using TestApp running = app;

        (await PostSignedMailgunAsync(app, 5)).Should().Be(5);

        feedback.Calls.Should().HaveCount(5);
    }

    [Fact]
    public async Task FallbackRule_StillLimitsTheAppsOwnRoutes()
    {
        (TestApp app, _) = await StartAsync("*");
        await using TestApp running = app;

        (await app.PostAsync("/api/other", ProviderIp)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await app.PostAsync("/api/other", ProviderIp)).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ExactPathRule_OnTheWebhook_StillApplies()
    {
        (TestApp app, RecordingFeedback feedback) = await StartAsync("POST:/emailguard/feedback/mailgun");
        await using TestApp running = app;

        (await PostSignedMailgunAsync(app, 3)).Should().Be(1);

        feedback.Calls.Should().ContainSingle();
    }
}
