namespace EmailGuard;

/// <summary>
/// The scratch arrays of one check, kept per thread and handed back after the check, so the hot path neither
/// allocates nor pays for several pool round trips. A check that goes asynchronous takes its buffers along and hands
/// them back on whatever thread it finishes.
/// </summary>
internal sealed class GuardBuffers
{
    /// <summary>Larger arrays are dropped after use so one huge message does not pin memory on a thread.</summary>
    private const int MaxKeptLength = 256;

    [ThreadStatic]
    private static GuardBuffers? t_cached;

    public GuardAddress[] Recipients { get; private set; } = new GuardAddress[8];

    public RateLimitRequest[] Requests { get; private set; } = new RateLimitRequest[16];

    public RateLimitEntry[] Entries { get; private set; } = new RateLimitEntry[16];

    public RequestTag[] Tags { get; private set; } = new RequestTag[16];

    public int RecipientCount { get; set; }

    /// <summary>
    /// The distinct recipients' addresses once a message has more than <see cref="LinearRecipients"/>: a message of
    /// thousands is deduplicated in linear time, not by comparing each recipient with every one before it.
    /// </summary>
    private HashSet<string>? _distinct;

    /// <summary>Up to this many recipients are deduplicated by scanning: no allocation for the common message.</summary>
    private const int LinearRecipients = 16;

    /// <summary>
    /// The key caches' clock (<see cref="SendGuardKeys.NowMs"/>) as the check read it, once for all its key lookups;
    /// read again when the check resumes after waiting.
    /// </summary>
    public long KeysNowMs { get; set; }

    /// <summary>
    /// The shape of this thread's last check, kept across checks (it is immutable and shared by the decisions that
    /// name it) so the next check with the same plan reuses it; see <see cref="GuardUsageShape.Of"/>.
    /// </summary>
    public GuardUsageShape? Shape { get; set; }

    public int RequestCount { get; set; }

    public static GuardBuffers Rent()
    {
        GuardBuffers? buffers = t_cached;
        if (buffers is null)
        {
            return new GuardBuffers();
        }

        t_cached = null;
        return buffers;
    }

    /// <summary>
    /// Adds <paramref name="address"/> to <see cref="Recipients"/> unless an equal address is there already; room for it
    /// was made by <see cref="EnsureRecipients"/>.
    /// </summary>
    /// <returns>Whether it was added: false for a repeat.</returns>
    public bool AddRecipient(GuardAddress address)
    {
        int count = RecipientCount;
        if (count < LinearRecipients)
        {
            for (int i = 0; i < count; i++)
            {
                if (ReferenceEquals(Recipients[i], address) || string.Equals(Recipients[i].Address, address.Address, StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }
        else
        {
            if (count == LinearRecipients)
            {
                _distinct ??= new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < count; i++)
                {
                    _distinct.Add(Recipients[i].Address);
                }
            }

            if (!_distinct!.Add(address.Address))
            {
                return false;
            }
        }

        Recipients[count] = address;
        RecipientCount = count + 1;
        return true;
    }

    public void EnsureRecipients(int count)
    {
        if (Recipients.Length < count)
        {
            Recipients = new GuardAddress[Math.Max(count, Recipients.Length * 2)];
        }
    }

    /// <summary>
    /// Requests written to <see cref="Requests"/> after the plan's <see cref="RequestCount"/>, taken in the same acquire
    /// but not part of the decision: the counters of the send for the ratio breakers.
    /// </summary>
    public int ExtraRequestCount { get; set; }

    /// <summary>Makes room for <paramref name="count"/> requests, keeping the plan's requests and tags written so far.</summary>
    public void EnsureRequests(int count)
    {
        if (Requests.Length < count)
        {
            int length = Math.Max(count, Requests.Length * 2);
            RateLimitRequest[] requests = new RateLimitRequest[length];
            RequestTag[] tags = new RequestTag[length];
            Requests.AsSpan(0, RequestCount).CopyTo(requests);
            Tags.AsSpan(0, RequestCount).CopyTo(tags);
            Requests = requests;
            Entries = new RateLimitEntry[length];
            Tags = tags;
        }
    }

    public void Return()
    {
        // Drop references so cached addresses and keys are not kept alive by an idle thread.
        Array.Clear(Recipients, 0, RecipientCount);
        if (_distinct is not null)
        {
            _distinct.Clear();
            if (RecipientCount > MaxKeptLength)
            {
                _distinct = null;
            }
        }

        Array.Clear(Requests, 0, RequestCount + ExtraRequestCount);
        Array.Clear(Tags, 0, RequestCount);
        RecipientCount = 0;
        RequestCount = 0;
        ExtraRequestCount = 0;
        if (Recipients.Length > MaxKeptLength)
        {
            Recipients = new GuardAddress[8];
        }

        if (Requests.Length > MaxKeptLength)
        {
            Requests = new RateLimitRequest[16];
            Entries = new RateLimitEntry[16];
            Tags = new RequestTag[16];
        }

        if (Shape is { Length: > MaxKeptLength })
        {
            Shape = null;
        }

        t_cached = this;
    }
}
