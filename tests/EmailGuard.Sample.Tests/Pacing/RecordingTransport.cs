using EmailGuard.Sample.Mail;

namespace EmailGuard.Sample.Tests.Pacing;

/// <summary>A transport that records each mail with the (fake) time it was handed over.</summary>
internal sealed class RecordingTransport(TimeProvider time) : IMailTransport
{
    private readonly Lock _lock = new();
    private readonly List<(OutgoingMail Mail, DateTimeOffset At)> _sent = [];
    private readonly SemaphoreSlim _delivered = new(0);

    public string Description => "recording transport";

    public IReadOnlyList<(OutgoingMail Mail, DateTimeOffset At)> Sent
    {
        get
        {
            lock (_lock)
            {
                return [.. _sent];
            }
        }
    }

    public Task DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _sent.Add((mail, time.GetUtcNow()));
        }

        _delivered.Release();
        return Task.CompletedTask;
    }

    /// <summary>Waits (in real time, at most <paramref name="timeout"/>) until <paramref name="count"/> mails were delivered.</summary>
    public async Task WaitForCountAsync(int count, TimeSpan timeout)
    {
        using CancellationTokenSource cts = new(timeout);
        while (Sent.Count < count)
        {
            await _delivered.WaitAsync(cts.Token);
        }
    }
}
