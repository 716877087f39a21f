using System.Net;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Without pinned certificates, a fresh instance (just deployed, scaled out, restarted) had verified nothing, so a flood
/// of messages naming fresh certificate URLs held its 4 fetch slots and the genuine message was answered 503 at every SNS
/// retry, although the instance beside it had verified that certificate all along. A certificate one instance verified
/// is now known to the others through the shared key-value store.
/// </summary>
public sealed class SharedVerifiedSnsCertificateTests : IAsyncLifetime
{
    private const string OtherRegionCertUrl = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-2222222222222222222222.pem";

    private readonly SharedStore _shared = new();
    private SnsInstancePair _pair = null!;
    private WebhookTestApp _first = null!;
    private WebhookTestApp _fresh = null!;

    public async Task InitializeAsync()
    {
        _pair = await SnsInstancePair.StartAsync(Share);
        (_first, _fresh) = (_pair.First, _pair.Fresh);
    }

    public async Task DisposeAsync() => await _pair.DisposeAsync();

    [Fact]
    public async Task CertificateAnotherInstanceVerified_IsFetchedPastTheBoundTheFloodFills()
    {
        // Arrange: the first instance verified a genuine message; the fresh one has seen none.
        (await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint))).StatusCode.Should().Be(HttpStatusCode.OK);
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(_fresh);

        // Act
        HttpResponseMessage genuine = await PostAsync(_fresh, SnsSigner.Notification(SesFixtures.EventDelivery));
        _fresh.Sns.Hold!.SetResult();
        HttpResponseMessage[] flood = await Task.WhenAll(held);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "the other instance verified this certificate, which only SNS can make happen");
        flood.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable));
        _fresh.Sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1);
        _shared.Keys.Should().ContainSingle().Which.Should().Be("sns-certificate:" + StoreKeyEncoding.Hash(SnsSigner.DefaultCertUrl), "the store holds a hash of the URL");
    }

    [Fact]
    public async Task ManyGenuineMessagesAtOnceOnAFreshInstance_AreAllAccepted_WithOneFetchPastTheBound()
    {
        // Arrange: SNS delivers a burst of bounces to the fresh instance while the flood holds its fetch slots.
        (await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint))).StatusCode.Should().Be(HttpStatusCode.OK);
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(_fresh);

        // Act
        HttpResponseMessage[] genuine = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => PostAsync(_fresh, SnsSigner.Notification(SesFixtures.EventDelivery)))));
        _fresh.Sns.Hold!.SetResult();
        await Task.WhenAll(held);

        // Assert: the callers past the bound share one fetch, as callers within it do.
        genuine.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.OK));
        _fresh.Sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1);
    }

    [Fact]
    public async Task CertificateThatFetchedButVerifiedNothing_IsNotShared()
    {
        // Arrange: every SNS region serves a real certificate, so anyone can have an instance fetch one; a message naming
        // it does not verify (the attacker does not hold SNS's key), and must not make it trusted anywhere.
        using var otherRegion = new SnsSigner(TestApp.Start);
        _first.Sns.Certificates[OtherRegionCertUrl] = otherRegion.Pem;
        _fresh.Sns.Certificates[OtherRegionCertUrl] = otherRegion.Pem;
        (await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint), OtherRegionCertUrl)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(_fresh);

        // Act
        HttpResponseMessage beyond = await PostAsync(_fresh, SnsSigner.Notification(SesFixtures.IdentityComplaint), OtherRegionCertUrl);
        _fresh.Sns.Hold!.SetResult();
        await Task.WhenAll(held);

        // Assert
        beyond.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, "nothing verified that certificate");
        _fresh.Sns.Requests.Should().NotContain(u => u.AbsoluteUri == OtherRegionCertUrl);
        _shared.Keys.Should().BeEmpty();
    }

    [Fact]
    public async Task SharedStoreDown_AnswersAsBefore_AndLogsOnce()
    {
        // Arrange: the first instance verifies while the store is down (and still answers 200), then it verifies again
        // once the store is back, a minute later.
        _shared.Down = true;
        HttpResponseMessage whileDown = await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint));
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(_fresh);

        // Act: the fresh instance cannot read the store either, twice.
        HttpResponseMessage refused = await PostAsync(_fresh, SnsSigner.Notification(SesFixtures.EventDelivery));
        HttpResponseMessage refusedAgain = await PostAsync(_fresh, SnsSigner.Notification(SesFixtures.EventDelivery));
        _shared.Down = false;
        _first.Time.Advance(TimeSpan.FromMinutes(2));
        HttpResponseMessage afterOutage = await PostAsync(_first, SnsSigner.Notification(SesFixtures.EventDelivery, messageId: "after-outage"), timestamp: _first.Time.GetUtcNow());
        HttpResponseMessage retried = await PostAsync(_fresh, SnsSigner.Notification(SesFixtures.EventDelivery));
        _fresh.Sns.Hold!.SetResult();
        await Task.WhenAll(held);

        // Assert: a store that does not answer never fails a request; the fresh instance falls back to its bound (503,
        // which SNS retries), and the retry once the store answers goes through.
        whileDown.StatusCode.Should().Be(HttpStatusCode.OK);
        refused.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        refusedAgain.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        afterOutage.StatusCode.Should().Be(HttpStatusCode.OK);
        retried.StatusCode.Should().Be(HttpStatusCode.OK, "the first instance wrote its certificate once the store answered");
        _fresh.LogsWithId(3051).Should().ContainSingle().Which.Message.Should().Contain("could not be read");
        _first.LogsWithId(3051).Should().ContainSingle().Which.Message.Should().Contain("could not be written");
    }

    [Fact]
    public async Task CertificateVerifiedAgain_IsWrittenOncePerHalfLifetime()
    {
        // A store write per genuine message would cost a Redis call per bounce; the record lives the cache lifetime (24 h).
        for (int i = 0; i < 5; i++)
        {
            (await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint))).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        _first.Time.Advance(TimeSpan.FromHours(13));
        (await PostAsync(_first, SnsSigner.Notification(SesFixtures.IdentityComplaint), timestamp: _first.Time.GetUtcNow())).StatusCode.Should().Be(HttpStatusCode.OK);

        _shared.Writes.Should().Be(2);
    }

    private void Share(IServiceCollection services) => services.Replace(ServiceDescriptor.Singleton<IEmailGuardKeyValueStore>(_shared));

    private Task<HttpResponseMessage> PostAsync(WebhookTestApp app, Dictionary<string, string?> message, string certUrl = SnsSigner.DefaultCertUrl, DateTimeOffset? timestamp = null)
        => _pair.PostAsync(app, message, certUrl, timestamp);

    private Task<List<Task<HttpResponseMessage>>> HoldFetchSlotsAsync(WebhookTestApp app) => _pair.HoldFetchSlotsAsync(app);

    /// <summary>A key-value store both instances share, which can be taken down; it counts the certificate records written.</summary>
    private sealed class SharedStore : IEmailGuardKeyValueStore
    {
        private readonly InMemoryKeyValueStore _inner = new(1_000, TimeProvider.System);
        private readonly List<string> _keys = [];
        private int _writes;

        public volatile bool Down;

        public int Writes => Volatile.Read(ref _writes);

        public IReadOnlyList<string> Keys
        {
            get
            {
                lock (_keys)
                {
                    return [.. _keys];
                }
            }
        }

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Check();
            if (key.StartsWith("sns-certificate:", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _writes);
                lock (_keys)
                {
                    if (!_keys.Contains(key))
                    {
                        _keys.Add(key);
                    }
                }
            }

            return _inner.SetAsync(key, value, timeToLive, cancellationToken);
        }

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            Check();
            return _inner.GetAsync(key, cancellationToken);
        }

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Check();
            return _inner.GetOrAddAsync(key, value, timeToLive, cancellationToken);
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            Check();
            return _inner.RemoveAsync(key, expectedValue, cancellationToken);
        }

        private void Check()
        {
            if (Down)
            {
                throw new InvalidOperationException("The shared store is down.");
            }
        }
    }
}
