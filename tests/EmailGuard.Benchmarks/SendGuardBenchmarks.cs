using System.Globalization;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;

namespace EmailGuard.Benchmarks;

/// <summary>
/// One full send-guard check on the in-memory store: global, tenant, sender, user, one recipient and its domain, each
/// with an hourly rule (6 counters in one atomic acquire). Limits are out of reach, so every check is admitted and the
/// numbers are the hot path alone: cached address normalization and hashing, pooled buffers, the acquire, and the
/// decision (which keeps its usage compact and builds its attribution only when read, so a check allocates nothing).
/// Each category has a baseline that does what the check used to do, measured in the same run: the "AsBefore" methods
/// read the usage and the attribution (which every check used to build), and count the send in an acquire of its own.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkDotNet.Configs.BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class SendGuardBenchmarks
{
    private const int RecipientCount = 1_000;

    private EmailSendGuard _guard = null!;
    private EmailSendGuard _counted = null!;
    private EmailGuardFeedback _feedback = null!;
    private OutboundEmail _message = null!;
    private OutboundEmail[] _messages = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        RateLimitRule rule = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        SendGuardOptions options = BenchmarkGuards.SixParties(rule, rule);
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        GuardStateCache state = new(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System);
        _guard = new EmailSendGuard(wrapped, resilient, state, TimeProvider.System);

        // The same guard on the same store, counting every admitted send for the ratio breakers as AddEmailGuard() does.
        _feedback = BenchmarkGuards.SendCounts(resilient, options);
        _counted = new EmailSendGuard(wrapped, resilient, state, TimeProvider.System) { Sends = _feedback };

        _message = Message("customer@example.com");
        _messages = new OutboundEmail[RecipientCount];
        for (int i = 0; i < RecipientCount; i++)
        {
            _messages[i] = Message(string.Create(CultureInfo.InvariantCulture, $"customer{i}@example{i % 50}.com"));
            _ = _guard.CheckAsync(_messages[i]).Result;
        }

        _ = _guard.CheckAsync(_message).Result;
        _ = _counted.CheckAsync(_message).Result;
    }

    /// <summary>
    /// What a check cost before the decision kept its usage compact and built its attribution when read: the check,
    /// then the usage array and the attribution that every check used to build (680 B). The baseline of its category.
    /// </summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("check")]
    public int CheckSameRecipientAsBefore() => ReadEverything(_guard.CheckAsync(_message).Result);

    /// <summary>The same message again and again: every counter and cache entry is hot.</summary>
    [Benchmark]
    [BenchmarkCategory("check")]
    public EmailSendDecision CheckSameRecipient() => _guard.CheckAsync(_message).Result;

    /// <summary>1,000 recipients at 50 domains in turn: a different recipient counter every call.</summary>
    [Benchmark]
    [BenchmarkCategory("check")]
    public EmailSendDecision CheckRotatingRecipients()
    {
        OutboundEmail message = _messages[_next];
        _next = _next + 1 == RecipientCount ? 0 : _next + 1;
        return _guard.CheckAsync(message).Result;
    }

    /// <summary>
    /// What a check cost an app (whose guard counts each admitted send for the ratio breakers) before the count rode in
    /// the guard's acquire: the check as before, then the send counted in an acquire of its own. The baseline of its category.
    /// </summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("counting sends")]
    public int CheckCountingSendsAsBefore()
    {
        EmailSendDecision decision = _guard.CheckAsync(_message).Result;
        _feedback.CountSend(decision.Attribution!);
        return ReadEverything(decision);
    }

    /// <summary>The same message through a guard that counts each admitted send for the ratio breakers, as an app registers it.</summary>
    [Benchmark]
    [BenchmarkCategory("counting sends")]
    public EmailSendDecision CheckCountingSends() => _counted.CheckAsync(_message).Result;

    private static int ReadEverything(EmailSendDecision decision) => decision.Usage.Length + (decision.Attribution?.SendId?.Length ?? 0);

    private static OutboundEmail Message(string to) => new()
    {
        To = [to],
        Sender = "noreply@app.example",
        TenantId = "acme",
        UserId = "user-42",
    };
}
