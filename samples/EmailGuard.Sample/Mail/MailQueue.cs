using System.Threading.Channels;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The background queue tenant mail goes through. It can be paused from the outbox page, the way an operator holds
/// delivery during an incident; whatever is queued meanwhile is checked again by the guard when it is dequeued.
/// </summary>
public sealed class MailQueue
{
    private readonly Channel<QueuedMail> _channel = Channel.CreateBounded<QueuedMail>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Lock _lock = new();
    private TaskCompletionSource _resumed = CreateResumed();
    private TaskCompletionSource _idle = CreateResumed();
    private int _pending;

    public bool IsPaused { get; private set; }

    /// <summary>Mails queued and not yet dispatched (sent or failed).</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _pending;
            }
        }
    }

    public async ValueTask EnqueueAsync(QueuedMail mail, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_pending++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        await _channel.Writer.WriteAsync(mail, cancellationToken);
    }

    /// <summary>Called by the worker once a dequeued mail is sent or failed.</summary>
    public void MarkDispatched()
    {
        lock (_lock)
        {
            if (--_pending == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    /// <summary>Completes when nothing is waiting, so an operator's "resume" can report what became of the queue.</summary>
    public Task WhenIdleAsync()
    {
        lock (_lock)
        {
            return _idle.Task;
        }
    }

    /// <summary>Takes the next mail, holding it while the queue is paused.</summary>
    public async ValueTask<QueuedMail> DequeueAsync(CancellationToken cancellationToken)
    {
        QueuedMail mail = await _channel.Reader.ReadAsync(cancellationToken);
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
