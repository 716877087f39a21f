using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Mailgun signs the timestamp and token, not the body. An attacker who captures one signed delivery report can put
/// its signature on a forged complaint; each instance remembering its own tokens stops that only on the instance that
/// saw the token. Two instances behind a balancer share the key-value store, and a token is good for one body on both.
/// </summary>
public sealed class MailgunSharedReplayTests : IAsyncLifetime
{
    private readonly SharedStore _shared = new();
    private readonly TimerSignalingTimeProvider _time = new(TestApp.Start);
    private WebhookTestApp _first = null!;
    private WebhookTestApp _second = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Dictionary<string, string?> configuration = WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo()));
        _first = await WebhookTestApp.StartAsync(configuration, services: Share, time: _time);
        _second = await WebhookTestApp.StartAsync(configuration, services: Share);
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task ForgedBodyUnderACapturedToken_OnTheOtherInstance_Answers401AndRecordsNothing()
    {
        string token = new('b', 50);
        string genuine = MailgunSigner.Sign(MailgunSigner.EventData("delivered"), _first.Time.GetUtcNow(), token: token);
        string forged = MailgunSigner.Sign(MailgunSigner.EventData("complained", recipient: "victim@example.com"), _first.Time.GetUtcNow(), token: token);

        (await _first.PostAsync("mailgun", MailgunSigner.Json(genuine))).StatusCode.Should().Be(HttpStatusCode.OK);
        HttpResponseMessage replayed = await _second.PostAsync("mailgun", MailgunSigner.Json(forged));

        replayed.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _second.Feedback.Calls.Should().BeEmpty("the forged complaint must not suppress the victim");
        _second.LogsWithId(1753).Should().ContainSingle();
    }

    [Fact]
    public async Task SameBodyRetriedOnTheOtherInstance_IsAccepted()
    {
        // Mailgun retries a delivery it thinks failed, possibly to the other instance: the same body under the same
        // token goes through there (the feedback's event-id deduplication counts it once).
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _first.Time.GetUtcNow());

        (await _first.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _second.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _second.Feedback.Calls.Should().ContainSingle().Which.ProviderEventId.Should().Be(_first.Feedback.Calls.Single().ProviderEventId);
    }

    [Fact]
    public async Task EveryVerifiedRequest_IsCheckedByTheStoreOnce_WithNoMemoryOfItsOwn()
    {
        // One path: the store's. A same-instance replay is decided by the store too (no local memory answers first),
        // so it answers as it would on the other instance.
        string token = new('d', 50);
        string genuine = MailgunSigner.Sign(MailgunSigner.EventData("delivered"), _first.Time.GetUtcNow(), token: token);
        string forged = MailgunSigner.Sign(MailgunSigner.EventData("complained", recipient: "victim@example.com"), _first.Time.GetUtcNow(), token: token);

        (await _first.PostAsync("mailgun", MailgunSigner.Json(genuine))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _first.PostAsync("mailgun", MailgunSigner.Json(genuine))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _first.PostAsync("mailgun", MailgunSigner.Json(forged))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await _first.PostAsync("mailgun", MailgunSigner.Json("{\"signature\":{}}"))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        _shared.Claims.Should().Be(3, "each verified request is claimed once, an unsigned one never");
        _first.Feedback.Calls.Should().HaveCount(2).And.OnlyContain(c => c.Kind == EmailFeedbackKind.Delivered);
    }

    [Fact]
    public async Task SharedStoreDown_Answers503_AndTheRetryIsAcceptedOnceItAnswers()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("complained"), _first.Time.GetUtcNow());
        _shared.Down = true;

        HttpResponseMessage refused = await _first.PostAsync("mailgun", MailgunSigner.Json(body));
        _shared.Down = false;
        HttpResponseMessage retried = await _first.PostAsync("mailgun", MailgunSigner.Json(body));

        refused.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, "Mailgun retries a 5xx; without the shared memory a forged body could not be told from a retry");
        _first.LogsWithId(1769).Should().ContainSingle();
        retried.StatusCode.Should().Be(HttpStatusCode.OK, "the refused attempt must not leave its token behind on this instance");
        _first.Feedback.Calls.Should().ContainSingle();
    }

    [Fact]
    public async Task SharedStoreHangs_AnswersWithinABoundedTime()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("complained"), _first.Time.GetUtcNow());
        _shared.Hang = true;

        // The store's timeout runs on the app's clock, moved on by exactly that timeout once its timer exists: the request
        // is answered by the timeout, never by the hung store. The clock used to move on in 600 steps of 5 ms from when
        // the request reached the store; a thread slow between that call and the timer's creation (3 s on a loaded
        // machine) found the clock stopped, and the timer never fired.
        TimeSpan timeout = _first.App.App.Services.GetRequiredService<IOptions<StoreResilienceOptions>>().Value.Timeout;
        Task<HttpResponseMessage> post = _first.PostAsync("mailgun", MailgunSigner.Json(body));
        await _time.WaitForTimerAsync(timeout);
        _first.Time.Advance(timeout);
        HttpResponseMessage answer = await post.WaitAsync(TimeSpan.FromSeconds(30));

        answer.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        _first.Feedback.Calls.Should().BeEmpty();
    }

    private void Share(IServiceCollection services) => services.Replace(ServiceDescriptor.Singleton<IEmailGuardKeyValueStore>(_shared));

    /// <summary>A key-value store both instances share, which can be taken down or hung.</summary>
    private sealed class SharedStore : IEmailGuardKeyValueStore
    {
        private readonly ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);

        private int _claims;

        public volatile bool Down;
        public volatile bool Hang;

        public int Claims => Volatile.Read(ref _claims);

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Check();
            _values[key] = value;
            return ValueTask.CompletedTask;
        }

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            Check();
            return new(_values.TryGetValue(key, out string? value) ? value : null);
        }

        public async ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _claims);
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, CancellationToken.None);
            }

            Check();
            string stored = _values.GetOrAdd(key, value);
            return ReferenceEquals(stored, value) ? null : stored;
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            Check();
            return new(_values.TryRemove(new KeyValuePair<string, string>(key, expectedValue)));
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
