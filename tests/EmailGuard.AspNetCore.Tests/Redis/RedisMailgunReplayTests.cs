using System.Net;
using System.Security.Cryptography;
using EmailGuard.AspNetCore.Tests.Feedback;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Mailgun's replay check on the Redis key-value store, the one memory of seen tokens: two app instances on one Redis
/// refuse a forged body under a captured token wherever it lands, and let Mailgun's retries of the same body through.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisMailgunReplayTests(RedisServerFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private WebhookTestApp _first = null!;
    private WebhookTestApp _second = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Dictionary<string, string?> configuration = WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo()));
        _first = await WebhookTestApp.StartAsync(configuration, services: OnRedis);
        _second = await WebhookTestApp.StartAsync(configuration, services: OnRedis);
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task ForgedBodyUnderACapturedToken_OnEitherInstance_Answers401AndRecordsNothing()
    {
        string token = new('r', 50);
        string genuine = MailgunSigner.Sign(MailgunSigner.EventData("delivered"), _first.Time.GetUtcNow(), token: token);
        string forged = MailgunSigner.Sign(MailgunSigner.EventData("complained", recipient: "victim@example.com"), _first.Time.GetUtcNow(), token: token);

        (await _first.PostAsync("mailgun", MailgunSigner.Json(genuine))).StatusCode.Should().Be(HttpStatusCode.OK);
        HttpResponseMessage sameInstance = await _first.PostAsync("mailgun", MailgunSigner.Json(forged));
        HttpResponseMessage otherInstance = await _second.PostAsync("mailgun", MailgunSigner.Json(forged));

        sameInstance.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        otherInstance.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _first.Feedback.Calls.Should().ContainSingle().Which.Kind.Should().Be(EmailFeedbackKind.Delivered);
        _second.Feedback.Calls.Should().BeEmpty("the forged complaint must not suppress the victim");
        _first.LogsWithId(1753).Should().ContainSingle();
        _second.LogsWithId(1753).Should().ContainSingle();
    }

    [Fact]
    public async Task SameBodyRetried_OnEitherInstance_IsAccepted()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _first.Time.GetUtcNow());

        (await _first.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _first.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _second.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _first.Feedback.Calls.Concat(_second.Feedback.Calls).Select(c => c.ProviderEventId).Distinct().Should().ContainSingle();
    }

    private void OnRedis(IServiceCollection services) => services.AddEmailGuard().AddRedisStore(o =>
    {
        o.Configuration = redis.ConnectionString;
        o.KeyPrefix = _prefix;
        o.UseServerTime = false;
    });
}
