using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// A rolling upgrade from the builds that marked a refusal under the folded recipient alone: a provider's retry of one
/// refusal lands on either build, and counts once.
/// </summary>
public sealed class RefusalAcrossUpgradeTests
{
    private const string MessageId = "<20260302.9.ROGUE@mg.example.com>";
    private static readonly EmailFeedbackOptions s_defaults = new();
    private static readonly RateLimitRule s_dedupRule = RateLimitRule.SlidingWindow(1, s_defaults.DeduplicationWindow, EmailGuardFeedback.SegmentsFor(s_defaults.DeduplicationWindow));
    private static readonly RateLimitRule s_countRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, s_defaults.CountWindow, EmailGuardFeedback.SegmentsFor(s_defaults.CountWindow));

    [Fact]
    public async Task RefusalCountedByTheBuildBefore_ItsRetriesOnThisBuild_AreDuplicates()
    {
        // Arrange: an instance of the build before counted the first attempt.
        await using FeedbackTestApp app = SharedStoreApp(out Func<RecordingRateLimitStore> store);
        (await OldBuildRecordsAsync(store(), "attempt-0", "customer@example.com")).Should().Be(RateLimitStatus.Allowed);

        // Act: the provider's later attempts reach this build.
        EmailFeedbackOutcome[] outcomes = new EmailFeedbackOutcome[3];
        for (int i = 0; i < outcomes.Length; i++)
        {
            outcomes[i] = (await app.Feedback.RecordAsync(Refusal($"attempt-{i + 1}", "Customer@Example.com"))).Outcome;
        }

        // Assert
        outcomes.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Duplicate, "the old build counted this refusal already");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(1);
        (await app.Feedback.RecordAsync(Refusal("other-recipient", "second@example.com"))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }

    [Fact]
    public async Task RefusalCountedByThisBuild_ItsRetryOnTheBuildBefore_IsADuplicateThere()
    {
        await using FeedbackTestApp app = SharedStoreApp(out Func<RecordingRateLimitStore> store);

        (await app.Feedback.RecordAsync(Refusal("attempt-0", "customer@example.com"))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        (await OldBuildRecordsAsync(store(), "attempt-1", "customer@example.com")).Should().Be(RateLimitStatus.LimitExceeded, "the old build reads its own key");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task RefusalsOfSeveralMailsOnThisBuild_WhileItWritesTheOldKey_EachCountOnce()
    {
        // The old key folds the recipient and names no send: this build's own marks there must not make one mail's
        // refusal a duplicate of another's.
        await using FeedbackTestApp app = SharedStoreApp(out Func<RecordingRateLimitStore> store);
        string[] spellings = ["customer@gmail.com", "cus.tomer@gmail.com", "customer+1@gmail.com", "customer+2@googlemail.com"];
        string[] sendIds = ["send-1", "send-2", "send-3"];

        List<EmailFeedbackOutcome> first = [];
        List<EmailFeedbackOutcome> retried = [];
        foreach (string spelling in spellings)
        {
            foreach (string sendId in sendIds)
            {
                first.Add((await app.Feedback.RecordAsync(Refusal($"first-{spelling}-{sendId}", spelling, sendId))).Outcome);
            }
        }

        foreach (string spelling in spellings)
        {
            foreach (string sendId in sendIds)
            {
                retried.Add((await app.Feedback.RecordAsync(Refusal($"retry-{spelling}-{sendId}", spelling.ToUpperInvariant(), sendId))).Outcome);
            }
        }

        first.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Recorded);
        retried.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Duplicate);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(12);
        store().Keys.Should().Contain(OldKey("customer@gmail.com"), "the old build must find these refusals");
    }

    [Fact]
    public async Task TwoDedupWindowsAfterTheInstanceStarted_TheOldKeyIsNoLongerWritten()
    {
        await using FeedbackTestApp app = SharedStoreApp(out Func<RecordingRateLimitStore> store);
        app.Time.Advance(2 * s_defaults.DeduplicationWindow);

        (await app.Feedback.RecordAsync(Refusal("attempt-0", "customer@example.com"))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        store().Keys.Should().NotContain(OldKey("customer@example.com"));
    }

    [Fact]
    public async Task InMemoryStore_TheOldKeyIsNeverWritten()
    {
        // The in-memory store starts empty with its process: no older build's mark is in it.
        await using FeedbackTestApp app = new();

        (await app.Feedback.RecordAsync(Refusal("attempt-0", "customer@example.com"))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        RateLimitEntry[] entry = new RateLimitEntry[1];
        await app.Services.GetRequiredService<IRateLimitStore>().PeekAsync(new[] { new RateLimitRequest(OldKey("customer@example.com"), s_dedupRule, 0) }, entry);
        entry[0].Count.Should().Be(0);
    }

    /// <summary>One instance over a store that is not the in-memory one, as Redis is to the feedback: shared by builds.</summary>
    private static FeedbackTestApp SharedStoreApp(out Func<RecordingRateLimitStore> store)
    {
        RecordingRateLimitStore? created = null;
        FeedbackTestApp app = new(more: s => s.AddSingleton<IRateLimitStore>(sp =>
            created = new RecordingRateLimitStore(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), sp.GetRequiredService<TimeProvider>()))));
        _ = app.Feedback;
        store = () => created!;
        return app;
    }

    /// <summary>What the build before (5305a7f to 531ff9b) acquired for a refusal: the event, the old key, the counters.</summary>
    private static async Task<RateLimitStatus> OldBuildRecordsAsync(IRateLimitStore store, string eventId, string foldedRecipient)
    {
        RateLimitRequest[] requests =
        [
            new(FeedbackKeys.Event("mailgun", eventId), s_dedupRule),
            new(OldKey(foldedRecipient), s_dedupRule),
            new(FeedbackKeys.Count('b', EmailGuardDimension.Tenant, "rogue"), s_countRule),
            new(FeedbackKeys.Count('b', EmailGuardDimension.Global, null), s_countRule),
        ];
        return (await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).Status;
    }

    /// <summary>The old key, written out as that build wrote it: provider, message id and the folded recipient.</summary>
    private static string OldKey(string foldedRecipient)
        => "fb:rm:mailgun:" + StoreKeyEncoding.Hash(FeedbackKeys.Canonical(MessageId) + " " + foldedRecipient);

    private static EmailFeedbackEvent Refusal(string eventId, string recipient, string? sendId = null) => new()
    {
        Provider = "mailgun",
        ProviderEventId = eventId,
        ProviderMessageId = MessageId,
        Recipient = recipient,
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Transient,
        RejectedForMessage = true,
        Attribution = new EmailSendAttribution { TenantId = "rogue", SendId = sendId },
    };
}
