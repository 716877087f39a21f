using System.Globalization;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;

namespace EmailGuard.Benchmarks;

/// <summary>
/// One full send-guard check on the in-memory store: global, tenant, sender, user, one recipient and its domain, each
/// with an hourly rule (6 counters in one atomic acquire). Limits are out of reach, so every check is admitted and the
/// numbers are the hot path alone: cached address normalization and hashing, pooled buffers, the acquire, and the
/// decision (which keeps its usage compact and builds its attribution only when read, so a check allocates nothing).
/// <see cref="CheckAndReadEverything"/> reads the usage and the attribution too, as the check used to build them for
/// every decision.
/// </summary>
[MemoryDiagnoser]
public class SendGuardBenchmarks
{
    private const int RecipientCount = 1_000;

    private EmailSendGuard _guard = null!;
    private EmailSendGuard _counted = null!;
    private OutboundEmail _message = null!;
    private OutboundEmail[] _messages = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        RateLimitRule rule = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        SendGuardOptions options = new();
        options.Global.Add(rule);
        options.Tenant.Add(rule);
        options.Sender.Add(rule);
        options.User.Add(rule);
        options.Recipient.Add(rule);
        options.RecipientDomain.Add(rule);
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        GuardStateCache state = new(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System);
        _guard = new EmailSendGuard(wrapped, resilient, state, TimeProvider.System);

        // As AddEmailGuard() registers it: every admitted send is also counted for the ratio breakers.
        EmailGuardFeedback feedback = new(
            resilient,
            new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, TimeProvider.System), new StoreResilienceOptions(), TimeProvider.System),
            null,
            new EmailFeedbackOptions(),
            options,
            TimeProvider.System);
        _counted = new EmailSendGuard(wrapped, resilient, state, TimeProvider.System) { Sends = feedback };
        _ = _counted.CheckAsync(_message).Result;

        _message = Message("customer@example.com");
        _messages = new OutboundEmail[RecipientCount];
        for (int i = 0; i < RecipientCount; i++)
        {
            _messages[i] = Message(string.Create(CultureInfo.InvariantCulture, $"customer{i}@example{i % 50}.com"));
            _ = _guard.CheckAsync(_messages[i]).Result;
        }

        _ = _guard.CheckAsync(_message).Result;
    }

    /// <summary>The same message again and again: every counter and cache entry is hot.</summary>
    [Benchmark(Baseline = true)]
    public EmailSendDecision CheckSameRecipient() => _guard.CheckAsync(_message).Result;

    /// <summary>1,000 recipients at 50 domains in turn: a different recipient counter every call.</summary>
    [Benchmark]
    public EmailSendDecision CheckRotatingRecipients()
    {
        OutboundEmail message = _messages[_next];
        _next = _next + 1 == RecipientCount ? 0 : _next + 1;
        return _guard.CheckAsync(message).Result;
    }

    /// <summary>The same message through a guard that counts each admitted send for the ratio breakers, as an app registers it.</summary>
    [Benchmark]
    public EmailSendDecision CheckCountingSends() => _counted.CheckAsync(_message).Result;

    /// <summary>The same message, and a caller that reads everything the decision says: the usage of each rule and the attribution.</summary>
    [Benchmark]
    public int CheckAndReadEverything()
    {
        EmailSendDecision decision = _guard.CheckAsync(_message).Result;
        return decision.Usage.Length + (decision.Attribution?.SendId?.Length ?? 0);
    }

    private static OutboundEmail Message(string to) => new()
    {
        To = [to],
        Sender = "noreply@app.example",
        TenantId = "acme",
        UserId = "user-42",
    };
}
