using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// A half-open probe judges only the mail sent in its phase, with the send time SES signs: a bounce whose
/// <c>mail.timestamp</c> is before the phase counts in the tenant's window, not in its probe. Signed notifications,
/// through the real route, into EmailGuard's own feedback and breakers. A bot cannot date its probe's bounces back: the
/// timestamp is inside the signed message, and tags (which the sender writes) date nothing.
/// </summary>
public sealed class SesHalfOpenSendTimeTests : IAsyncLifetime
{
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(1);
    private static readonly EmailSendAttribution s_attribution = new() { TenantId = "acme", UserId = "user-42", Category = "signup" };

    private readonly ECDsa _sendGridKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly SnsSigner _sns = new(TestApp.Start);
    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private WebhookTestApp _app = null!;
    private int _events;

    public async Task InitializeAsync()
    {
        _app = await WebhookTestApp.StartAsync(
            WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGridKey.ExportSubjectPublicKeyInfo())),
            services: s => s.Configure<EmailRatioBreakerOptions>(o =>
            {
                o.MinimumSends = 20;
                o.BounceRateToReduce = 0.02;
                o.BounceRateToSuspend = 0.04;
                o.TripFor = TripFor;
                o.HalfOpenFor = TimeSpan.FromHours(2);
                o.HalfOpenMinimumSends = 50;
                o.NetworkBouncesToBan = 0;
                o.OnTripped = args =>
                {
                    lock (_trips)
                    {
                        _trips.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
            }),
            realFeedback: true);
        _app.Sns.Certificates[SnsSigner.DefaultCertUrl] = _sns.Pem;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _sendGridKey.Dispose();
        _sns.Dispose();
    }

    [Fact]
    public async Task HalfOpen_SignedBouncesOfMailSentBeforeThePhase_CountInTheWindowNotTheProbe_ABounceOfMailSentInIt_TripsAgain()
    {
        // Arrange: 100 sends and 2 bounces trip the tenant; an hour later it is half-open.
        IServiceProvider services = _app.App.App.Services;
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 100; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "acme", UserId = "user-42", Category = "signup" })).IsAllowed.Should().BeTrue();
        }

        (await PostAsync(sentAt: TestApp.Start)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(sentAt: TestApp.Start)).StatusCode.Should().Be(HttpStatusCode.OK);
        _trips.Should().HaveCount(2, "the tenant and the user trip");
        _app.Time.Advance(TripFor + TimeSpan.FromSeconds(1));

        // Act: three bounces of mail SES accepted before the phase (two before the trip, one in it) arrive, signed now.
        (await PostAsync(sentAt: TestApp.Start)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(sentAt: TestApp.Start + TimeSpan.FromMinutes(1))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(sentAt: TestApp.Start + TimeSpan.FromMinutes(30))).StatusCode.Should().Be(HttpStatusCode.OK);
        int tripsAfterOldMail = _trips.Count;
        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });

        // A bounce of mail sent in the phase, tagged by its sender with an old "send time": the tags date nothing.
        (await PostAsync(sentAt: _app.Time.GetUtcNow(), forgedTags: true)).StatusCode.Should().Be(HttpStatusCode.OK);

        // Assert
        tripsAfterOldMail.Should().Be(2, "each old bounce alone is the probe's 2 % line (1 over 50), but none is the probe's");
        EmailPartyRatioStatus tenant = status.Ratios.Single(r => r.Counts.Dimension == EmailGuardDimension.Tenant);
        (tenant.BreakerState, tenant.Counts.Bounces).Should().Be((EmailRatioBreakerState.HalfOpen, 5L), "the window holds every bounce");
        _trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2));
    }

    [Fact]
    public async Task Attack_HalfOpen_ProbeBounceWithItsMailTimestampRewrittenToBeforeThePhase_IsRefused_TheSignedOneTripsAgain()
    {
        IServiceProvider services = _app.App.App.Services;
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 100; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "acme", UserId = "user-42", Category = "signup" })).IsAllowed.Should().BeTrue();
        }

        await PostAsync(sentAt: TestApp.Start);
        await PostAsync(sentAt: TestApp.Start);
        _app.Time.Advance(TripFor + TimeSpan.FromSeconds(1));

        // The probe's bounce, signed by SNS, with mail.timestamp moved back to before the trip after signing.
        Dictionary<string, string?> signed = Signed(_app.Time.GetUtcNow());
        Dictionary<string, string?> rewritten = new(signed)
        {
            ["Message"] = signed["Message"]!.Replace(Iso(_app.Time.GetUtcNow()), Iso(TestApp.Start), StringComparison.Ordinal),
        };
        rewritten["Message"].Should().NotBe(signed["Message"]);

        (await _app.PostAsync("ses", SnsSigner.Body(rewritten))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _trips.Should().HaveCount(2, "the rewritten notification is refused whole");
        (await _app.PostAsync("ses", SnsSigner.Body(signed))).StatusCode.Should().Be(HttpStatusCode.OK);

        _trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2));
    }

    private Task<HttpResponseMessage> PostAsync(DateTimeOffset sentAt, bool forgedTags = false)
        => _app.PostAsync("ses", SnsSigner.Body(Signed(sentAt, forgedTags)));

    /// <summary>A configuration-set bounce of mail SES accepted at <paramref name="sentAt"/>, signed by SNS now.</summary>
    private Dictionary<string, string?> Signed(DateTimeOffset sentAt, bool forgedTags = false)
    {
        string id = "e" + (++_events).ToString(CultureInfo.InvariantCulture);
        string message = BouncePayloads.Ses(s_attribution, id, id + "@example.com", "Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown")
            .Replace("\"timestamp\": \"2026-03-02T00:00:00.000Z\"", $"\"timestamp\": \"{Iso(sentAt)}\"", StringComparison.Ordinal)
            .Replace("\"timestamp\": \"2026-03-02T00:00:06.000Z\"", $"\"timestamp\": \"{Iso(_app.Time.GetUtcNow())}\"", StringComparison.Ordinal);
        if (forgedTags)
        {
            message = message.Replace("\"ses:configuration-set\": [ \"feedback\" ]", "\"ses:configuration-set\": [ \"feedback\" ], \"sent\": [ \"1772409600\" ], \"eg_sent\": [ \"1772409600\" ]", StringComparison.Ordinal);
        }

        Dictionary<string, string?> notification = SnsSigner.Notification(message);
        notification["Timestamp"] = Iso(_app.Time.GetUtcNow());
        return _sns.Sign(notification);
    }

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
