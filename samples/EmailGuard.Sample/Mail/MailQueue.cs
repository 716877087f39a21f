using System.Threading.Channels;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The background queue tenant mail goes through. It can be paused from the admin page, the way an operator holds
/// delivery during an incident; whatever is queued meanwhile is checked again by the guard when it is dequeued.
/// </summary>
public sealed class MailQueue
{
    private readonly Channel<OutgoingMail> _channel = Channel.CreateBounded<OutgoingMail>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Lock _lock = new();
    private TaskCompletionSource _resumed = CreateResumed();
    private int _pending;

    public bool IsPaused { get; private set; }

    /// <summary>Mails written and not yet taken by the worker.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public async ValueTask EnqueueAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _pending);
        await _channel.Writer.WriteAsync(mail, cancellationToken);
    }

    /// <summary>Takes the next mail, holding it while the queue is paused.</summary>
    public async ValueTask<OutgoingMail> DequeueAsync(CancellationToken cancellationToken)
    {
        OutgoingMail mail = await _channel.Reader.ReadAsync(cancellationToken);
        while (true)
        {
            Task resumed;
            lock (_lock)
            {
                resumed = _resumed.Task;
            }

            if (resumed.IsCompleted)
            {
                break;
            }

            await resumed.WaitAsync(cancellationToken);
        }

        Interlocked.Decrement(ref _pending);
        return mail;
    }

    public void Pause()
    {
        lock (_lock)
        {
            if (!IsPaused)
            {
                IsPaused = true;
                _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Resume()
    {
        lock (_lock)
        {
            IsPaused = false;
            _resumed.TrySetResult();
        }
    }

    private static TaskCompletionSource CreateResumed()
    {
        TaskCompletionSource source = new(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }
}
