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
    private SnsInstancePair _pair = null!;

    public async Task InitializeAsync() => _pair = await SnsInstancePair.StartAsync(OnRedis);

    public async Task DisposeAsync() => await _pair.DisposeAsync();

    [Fact]
    public async Task CertificateAnotherInstanceVerified_IsFetchedPastTheBoundTheFloodFills()
    {
        // Arrange
        (await _pair.PostAsync(_pair.First, SnsSigner.Notification(SesFixtures.EventDelivery))).StatusCode.Should().Be(HttpStatusCode.OK);
        List<Task<HttpResponseMessage>> held = await _pair.HoldFetchSlotsAsync(_pair.Fresh);

        // Act
        HttpResponseMessage genuine = await _pair.PostAsync(_pair.Fresh, SnsSigner.Notification(SesFixtures.EventDelivery));
        _pair.Fresh.Sns.Hold!.SetResult();
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

    private void OnRedis(IServiceCollection services) => services.AddEmailGuard().AddRedisStore(o =>
    {
        o.Configuration = redis.ConnectionString;
        o.KeyPrefix = _prefix;
        o.UseServerTime = false;
    });
}
