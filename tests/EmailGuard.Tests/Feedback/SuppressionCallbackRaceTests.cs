using EmailGuard.Testing.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// A provider delivers one event twice at once (its retry, or two webhook deliveries): the first records it and writes
/// the blocklist entry, the duplicate completes a suppression it finds still owed. Whichever order their steps take,
/// <see cref="EmailFeedbackEvents.OnSuppressed"/> is raised once for the event, and never for an entry from before it.
/// </summary>
public sealed class SuppressionCallbackRaceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DuplicateWritesTheEntryWhileTheRecordedDeliveryIsOnItsWay_TheCallbackIsRaisedOnce()
    {
        // Arrange: the recorded delivery is held before its blocklist lookup. (CI saw 0 callbacks: the duplicate wrote the
        // entry without one, and the recorded delivery then found an entry and thought it older than the event.)
        List<EmailSuppressionArguments> raised = [];
        HookedLists? lists = null;
        await using FeedbackTestApp app = new(o => o.Events.OnSuppressed = a => Raised(raised, a), more: s => HookedLists.Register(s, created => lists = created));
        _ = app.Feedback;
        HookedLists.Hold atFind = lists!.HoldNextFind();

        // Act
        Task<EmailFeedbackResult> recorded = app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1")).AsTask();
        await atFind.Reached.WaitAsync(Bound);
        EmailFeedbackResult duplicate = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1")).AsTask().WaitAsync(Bound);
        atFind.Release();
        EmailFeedbackResult first = await recorded.WaitAsync(Bound);

        // Assert
        first.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        duplicate.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        raised.Should().ContainSingle("the duplicate holds the claim and wrote the entry").Which.Reason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        (await app.Lists.CountByReasonAsync(EmailGuardListKind.Blocklist)).Should().Equal(new Dictionary<string, int> { [EmailFeedbackSuppressionReasons.HardBounce] = 1 });
    }

    [Fact]
    public async Task DuplicateClaimsBetweenTheRecordedWriteAndItsClaim_TheCallbackIsRaisedOnce()
    {
        // Arrange: the recorded delivery is held after its blocklist write, before it marks the suppression done.
        List<EmailSuppressionArguments> raised = [];
        HookedLists? lists = null;
        await using FeedbackTestApp app = new(o => o.Events.OnSuppressed = a => Raised(raised, a), more: s => HookedLists.Register(s, created => lists = created));
        _ = app.Feedback;
        HookedLists.Hold written = lists!.HoldAfterNextAdd();

        // Act
        Task<EmailFeedbackResult> recorded = app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained)).AsTask();
        await written.Reached.WaitAsync(Bound);
        EmailFeedbackResult duplicate = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained)).AsTask().WaitAsync(Bound);
        written.Release();
        EmailFeedbackResult first = await recorded.WaitAsync(Bound);

        // Assert: the duplicate took the claim and found the recorded delivery's entry; the recorded delivery found the
        // claim taken and left the callback to it.
        first.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        duplicate.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        raised.Should().ContainSingle().Which.Reason.Should().Be(EmailFeedbackSuppressionReasons.Complaint);
    }

    [Fact]
    public async Task RetryCompletesASuppressionAnOutageCut_RaisesTheCallback_ButNotForAnEntryFromBeforeTheEvent()
    {
        // Arrange: one address suppressed by an earlier hard bounce two hours ago (its callback raised then), another
        // not yet. Each new bounce's delivery fails at its blocklist lookup while the store is down, so its dedup mark
        // outlives the refund and the provider's retry is a duplicate that completes the suppression.
        List<EmailSuppressionArguments> raised = [];
        SwitchableRateLimitStore? store = null;
        HookedLists? lists = null;
        await using FeedbackTestApp app = new(o => o.Events.OnSuppressed = a => Raised(raised, a), more: s =>
        {
            s.Replace(ServiceDescriptor.Singleton<IRateLimitStore>(sp =>
                store = new SwitchableRateLimitStore(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), sp.GetRequiredService<TimeProvider>()))));
            HookedLists.Register(s, created => lists = created);
        });
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-0", recipient: "old@example.com"))).SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        app.Time.Advance(TimeSpan.FromHours(2));

        // Act
        List<EmailFeedbackResult> retries = [];
        foreach ((string id, string recipient) in new[] { ("evt-1", "old@example.com"), ("evt-2", "new@example.com") })
        {
            lists!.BeforeFind = () =>
            {
                lists.BeforeFind = null;
                store!.Down = true;
                throw new EmailGuardStoreUnavailableException("the blocklist lookup timed out");
            };
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event(id, recipient: recipient))).Outcome.Should().Be(EmailFeedbackOutcome.StoreUnavailable);
            store!.Down = false;
            retries.Add(await app.Feedback.RecordAsync(FeedbackTestApp.Event(id, recipient: recipient)));
        }

        // Assert
        retries.Should().OnlyContain(r => r.Outcome == EmailFeedbackOutcome.Duplicate);
        retries[0].SuppressionReason.Should().BeNull("the address was suppressed two hours before this event");
        retries[1].SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        raised.Select(a => (a.Event.ProviderEventId, a.Recipient)).Should().Equal(("evt-0", "old@example.com"), ("evt-2", "new@example.com"));
    }

    private static ValueTask Raised(List<EmailSuppressionArguments> raised, EmailSuppressionArguments arguments)
    {
        lock (raised)
        {
            raised.Add(arguments);
        }

        return ValueTask.CompletedTask;
    }
}
