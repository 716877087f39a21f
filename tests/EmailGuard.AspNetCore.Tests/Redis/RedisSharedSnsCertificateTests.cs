using System.Globalization;
using System.Net;
using EmailGuard.AspNetCore.Tests.Feedback;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The SNS certificates one instance verified, known to a fresh instance on the same Redis: a flood holding the fresh
/// instance's fetch slots no longer turns the genuine message away there. The record is a Redis string with a TTL.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSharedSnsCertificateTests(RedisServerFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly SnsSigner _signer = new(TestApp.Start);
    private WebhookTestApp _first = null!;
    private WebhookTestApp _fresh = null!;

    public async Task InitializeAsync()
    {
        Dictionary<string, string?> configuration = new()
        {
            ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
            ["EmailGuard:Webhooks:Ses:TopicArns:0"] = WebhookTestApp.TopicArn,
        };
        _first = await WebhookTestApp.StartAsync(configuration, services: OnRedis);
        _fresh = await WebhookTestApp.StartAsync(configuration, services: OnRedis);
        _first.Sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
        _fresh.Sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _fresh.DisposeAsync();
        _signer.Dispose();
    }

    [Fact]
    public async Task CertificateAnotherInstanceVerified_IsFetchedPastTheBoundTheFloodFills()
    {
        // Arrange
        (await PostAsync(_first, SnsSigner.DefaultCertUrl)).StatusCode.Should().Be(HttpStatusCode.OK);
        _fresh.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(_fresh, string.Create(CultureInfo.InvariantCulture, $"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-flood{i}.pem")));
            (await _fresh.Sns.HeldFetches.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue("the flood's fetch must arrive");
        }

        // Act
        HttpResponseMessage genuine = await PostAsync(_fresh, SnsSigner.DefaultCertUrl);
        _fresh.Sns.Hold.SetResult();
        HttpResponseMessage[] flood = await Task.WhenAll(held);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK);
        flood.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable));
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        IDatabase database = connection.GetDatabase();
        RedisKey[] keys = [.. connection.GetServers()[0].Keys(pattern: _prefix + "*sns-certificate:*")];
        keys.Should().ContainSingle().Which.ToString().Should().Contain("sns-certificate:" + StoreKeyEncoding.Hash(SnsSigner.DefaultCertUrl), "the key is a hash of the URL");
        TimeSpan? ttl = await database.KeyTimeToLiveAsync(keys[0]);
        ttl.Should().NotBeNull().And.BeGreaterThan(TimeSpan.FromHours(23)).And.BeLessThanOrEqualTo(TimeSpan.FromHours(24), "it lives as long as a cached certificate");
    }

    private Task<HttpResponseMessage> PostAsync(WebhookTestApp app, string certUrl) =>
        app.PostAsync("ses", SnsSigner.Body(_signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery), certUrl: certUrl)));

    private void OnRedis(IServiceCollection services) => services.AddEmailGuard().AddRedisStore(o =>
    {
        o.Configuration = redis.ConnectionString;
        o.KeyPrefix = _prefix;
        o.UseServerTime = false;
    });
}
