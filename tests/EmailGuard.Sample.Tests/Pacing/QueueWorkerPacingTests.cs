using EmailGuard.Sample.Mail;
using EmailGuard.Testing.Pacing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests.Pacing;

/// <summary>
/// The sample's queue worker on simulated time, against the provider rate in the sample's appsettings.json (SES's
/// 14 a second, a second's worth at once): a backlog goes out at the provider's pace, each mail at its reserved slot.
/// </summary>
public sealed class QueueWorkerPacingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly PacedTimeProvider _time = new(Start);
    private RecordingTransport _transport = null!;
    private SampleApp _app = null!;

    public Task InitializeAsync()
    {
        _transport = new RecordingTransport(_time);
        _app = SampleApp.Start(
            new Dictionary<string, string?>
            {
                // The account's hourly and daily quotas raised, so that only the rate paces this backlog.
                ["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "100000",
                ["EmailGuard:SendGuard:Global:Rules:1:Limit"] = "100000",
            },
            services: s =>
            {
                s.AddSingleton<TimeProvider>(_time);
                s.AddSingleton<IMailTransport>(_transport);
            });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Worker_4000QueuedMailsAtSesRate_AllSentAtTheirSlotsInOrderNoneEarlyNoneLost()
    {
        // Arrange: a newsletter of 4,000 mails queued at once (distinct recipients over 100 domains, under their caps).
        SampleMailer mailer = _app.Services.GetRequiredService<SampleMailer>();
        List<(OutgoingMail Mail, DateTimeOffset Slot)> queued = [];
        for (int i = 0; i < 4_000; i++)
        {
            OutgoingMail mail = new("newsletter", "news@sample.emailguard.test", $"reader{i}@d{i % 100}.example", $"Issue 42 ({i})", "Hello");
            Guard.GuardVerdict verdict = await mailer.QueueAsync(mail, CancellationToken.None);
            verdict.Allowed.Should().BeTrue("mail {0} fits within the maximum wait: {1}", i, verdict.Reason);
            queued.Add((mail, verdict.SendAt!.Value));
        }

        // Act: move the clock to each slot once the worker waits for it, and let it send.
        for (int i = 0; i < queued.Count; i++)
        {
            DateTimeOffset slot = queued[i].Slot;
            if (slot > _time.GetUtcNow())
            {
                await _time.WaitForTimerAsync(slot, Bound);
                _time.Advance(slot - _time.GetUtcNow());
            }

            await _transport.WaitForCountAsync(i + 1, Bound);
        }

        await _app.MailDrainedAsync();

        // Assert: all sent, in order, each exactly at its slot, and the slots keep the provider's rate.
        IReadOnlyList<(OutgoingMail Mail, DateTimeOffset At)> sent = _transport.Sent;
        sent.Select(s => s.Mail.Id).Should().Equal(queued.Select(q => q.Mail.Id), "none is lost, none sent twice, and the queue's order holds");
        sent.Select(s => s.At).Should().Equal(queued.Select(q => q.Slot), "none goes before its slot, and the worker sends it then");
        queued.Take(14).Should().OnlyContain(q => q.Slot == Start, "the burst goes at once");
        PacingAssertions.WorstExcess(sent.Select(s => s.At), burst: 14, rate: 14, TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(0);
        (sent[^1].At - Start).Should().BeCloseTo(TimeSpan.FromSeconds((4_000 - 14) / 14.0), TimeSpan.FromMilliseconds(10), "at the provider's pace, not slower");
        _app.Services.GetRequiredService<Outbox>().Snapshot().Should().OnlyContain(e => e.Status == OutboxStatus.Sent);
    }

    [Fact]
    public async Task Worker_QueueHeldPastTheSlots_BacklogIsReservedAgainAndLeavesAtTheProviderPaceNotAtOnce()
    {
        // Arrange: an operator holds the queue for 20 minutes while 40 mails wait; every slot passes.
        SampleMailer mailer = _app.Services.GetRequiredService<SampleMailer>();
        MailQueue queue = _app.Services.GetRequiredService<MailQueue>();
        queue.Pause();
        List<(OutgoingMail Mail, DateTimeOffset Slot)> queued = [];
        for (int i = 0; i < 40; i++)
        {
            OutgoingMail mail = new("newsletter", "news@sample.emailguard.test", $"reader{i}@d{i}.example", "Held", "Hello");
            queued.Add((mail, (await mailer.QueueAsync(mail, CancellationToken.None)).SendAt!.Value));
        }

        TimeSpan held = TimeSpan.FromMinutes(20);
        _time.Advance(held);

        // Act: resume; the bucket has refilled, so the new slots fall as the first ones did, 20 minutes later.
        queue.Resume();
        for (int i = 0; i < queued.Count; i++)
        {
            DateTimeOffset slot = queued[i].Slot + held;
            if (slot > _time.GetUtcNow())
            {
                await _time.WaitForTimerAsync(slot, Bound);
                _time.Advance(slot - _time.GetUtcNow());
            }

            await _transport.WaitForCountAsync(i + 1, Bound);
        }

        await _app.MailDrainedAsync();

        // Assert: not 40 at once when the queue resumed, but the burst and then the rate, in order.
        IReadOnlyList<(OutgoingMail Mail, DateTimeOffset At)> sent = _transport.Sent;
        sent.Select(s => s.Mail.Id).Should().Equal(queued.Select(q => q.Mail.Id));
        sent.Select(s => s.At).Should().Equal(queued.Select(q => q.Slot + held));
        sent.Count(s => s.At == Start + held).Should().Be(14);
        PacingAssertions.WorstExcess(sent.Select(s => s.At), burst: 14, rate: 14, TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(0);
    }
}
