using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;

namespace EmailGuard.Benchmarks;

/// <summary>
/// A send-guard check with content against the same check without it, in one run: global, tenant, user, one recipient
/// (4 counters), plus the content rule when the message carries content, on the in-memory store with limits out of
/// reach. The difference is the content dimension's cost: normalizing and hashing the subject and an HTML body of
/// <see cref="BodyChars"/> characters, and one more counter. <see cref="CheckWithNearDuplicate"/> adds the
/// near-duplicate sketch (default settings: 4 band keys, so 4 more counters); <see cref="FingerprintOnly"/> and
/// <see cref="FingerprintAndBandsOnly"/> are the normalizing and hashing alone. The minimum and median columns are
/// there for shared machines, where other load inflates the mean.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class ContentCheckBenchmarks
{
    private EmailSendGuard _guard = null!;
    private EmailSendGuard _nearDuplicateGuard = null!;
    private NearDuplicateSketch _sketch = null!;
    private byte[] _bandHashes = null!;
    private OutboundEmail _withoutContent = null!;
    private OutboundEmail _withContent = null!;

    /// <summary>The body's length: 2 KB and 50 KB.</summary>
    [Params(2 * 1024, 50 * 1024)]
    public int BodyChars { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _guard = CreateGuard(nearDuplicate: false);
        _nearDuplicateGuard = CreateGuard(nearDuplicate: true);
        _sketch = new NearDuplicateSketch(new NearDuplicateContentOptions());
        _bandHashes = new byte[_sketch.Bands * NearDuplicateSketch.BandHashBytes];

        _withoutContent = new OutboundEmail { To = ["supplier@example.com"], TenantId = "acme", UserId = "u1" };
        _withContent = new OutboundEmail
        {
            To = ["supplier@example.com"],
            TenantId = "acme",
            UserId = "u1",
            Content = new EmailContent { Subject = "Purchase order PO-4711 shared with you", HtmlBody = Body(BodyChars) },
        };
        _ = _guard.CheckAsync(_withoutContent).Result;
        _ = _guard.CheckAsync(_withContent).Result;
        _ = _nearDuplicateGuard.CheckAsync(_withContent).Result;
        _ = _nearDuplicateGuard.CheckAsync(_withoutContent).Result;
    }

    [Benchmark(Baseline = true)]
    public EmailSendDecision CheckWithoutContent() => _guard.CheckAsync(_withoutContent).Result;

    [Benchmark]
    public EmailSendDecision CheckWithContent() => _guard.CheckAsync(_withContent).Result;

    [Benchmark]
    public EmailSendDecision CheckWithNearDuplicate() => _nearDuplicateGuard.CheckAsync(_withContent).Result;

    [Benchmark]
    public string FingerprintOnly() => ContentFingerprint.Compute(_withContent.Content!);

    [Benchmark]
    public string FingerprintAndBandsOnly() => ContentFingerprint.Compute(_withContent.Content!, _sketch, _bandHashes, out _);

    private static EmailSendGuard CreateGuard(bool nearDuplicate)
    {
        RateLimitRule rule = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        SendGuardOptions options = new();
        options.Global.Add(rule);
        options.Tenant.Add(rule);
        options.User.Add(rule);
        options.Recipient.Add(rule);
        options.Content.Add(rule);
        options.NearDuplicate.Enabled = nearDuplicate;
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        GuardStateCache state = new(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System);
        return new EmailSendGuard(wrapped, resilient, state, TimeProvider.System);
    }

    private static string Body(int length)
    {
        StringBuilder builder = new(length + 200);
        builder.Append("<html><body><p>Dear Anna Smith,</p>");
        for (int i = 0; builder.Length < length; i++)
        {
            builder.Append("<p>Line ").Append(i).Append(" of the order: <b>item</b> delivered to the central warehouse &amp; invoiced; details at https://app.example.com/po/4711?line=").Append(i).Append("</p>\n");
        }

        return builder.ToString(0, length);
    }
}
