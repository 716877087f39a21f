using System.Diagnostics;

namespace EmailGuard;

/// <summary>
/// The scratch arrays of one check, kept per thread and handed back after the check, so the hot path neither
/// allocates nor pays for several pool round trips. A check that goes asynchronous takes its buffers along and hands
/// them back on whatever thread it finishes.
/// </summary>
/// <remarks>
/// Checks on a remote store go asynchronous: many are in flight at once and finish on other threads than they began,
/// so a thread's one cached set is seldom there. Sets handed back while their thread already caches one wait in a
/// small shared pool for the next check that finds none (<see cref="SharedCapacity"/>).
/// </remarks>
internal sealed class GuardBuffers
{
    /// <summary>Larger arrays are dropped after use so one huge message does not pin memory on a thread.</summary>
    private const int MaxKeptLength = 256;

    /// <summary>The most sets the shared pool keeps: about one per check a busy instance has in flight on a remote store.</summary>
    private const int SharedCapacity = 128;

    /// <summary>The largest arrays a set in the shared pool keeps: a message to a few recipients with all its rules.</summary>
    private const int SharedKeptLength = 32;

    private static readonly GuardBuffers[] s_shared = new GuardBuffers[SharedCapacity];
    private static readonly Lock s_sharedLock = new();
    private static int s_sharedCount;

    [ThreadStatic]
    private static GuardBuffers? t_cached;

    /// <summary>
    /// Whether a check holds the set: a second hand-back before the set is rented again is ignored, so it is not pooled
    /// twice. A late hand-back after another check rented it cannot be told from that check's own and would pool a set
    /// in use, which the shared pool hands to a check on another thread at once: every path hands a set back exactly once.
    /// </summary>
    private bool _rented;

    public GuardAddress[] Recipients { get; private set; } = new GuardAddress[8];

    /// <summary>
    /// Per distinct recipient (as <see cref="Recipients"/>), how many mails the provider delivers to it: one per way it
    /// was written, as a provider sees addresses. <c>v+1@x</c> and <c>v+2@x</c> are one recipient to the limits and two
    /// mails to the provider.
    /// </summary>
    public int[] Deliveries { get; private set; } = new int[8];

    /// <summary>Per distinct recipient, the address as first written, to tell a repeat from another way of writing it (see <see cref="_spellings"/>).</summary>
    public string?[] FirstWritten { get; private set; } = new string?[8];

    /// <summary>The mails the provider delivers for the message: the sum of <see cref="Deliveries"/>.</summary>
    public int DeliveryCount { get; set; }

    public RateLimitRequest[] Requests { get; private set; } = new RateLimitRequest[16];

    public RateLimitEntry[] Entries { get; private set; } = new RateLimitEntry[16];

    public RequestTag[] Tags { get; private set; } = new RequestTag[16];

    public int RecipientCount { get; set; }

    /// <summary>
    /// The distinct recipients' addresses, with their index in <see cref="Recipients"/>, once a message has more than
    /// <see cref="LinearRecipients"/>: a message of thousands is deduplicated in linear time, not by comparing each
    /// recipient with every one before it.
    /// </summary>
    private Dictionary<string, int>? _distinct;

    /// <summary>
    /// The spellings after the first of each recipient written in several ways (<see cref="FeedbackKeys.MailOf"/>), with
    /// its index in <see cref="Recipients"/>; made for the first message that has one.
    /// </summary>
    private HashSet<(int Index, string Mail)>? _spellings;

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

    /// <summary>The key cache entries of the parties of the last check made with this set, kept across checks (see <see cref="GuardPartyMemo"/>).</summary>
    public GuardPartyMemo Parties { get; } = new();

    public int RequestCount { get; set; }

    /// <summary>
    /// The check's store time budget: the set's own, reused by every check that rents it (a check that never waits
    /// neither reads the clock nor allocates for it), or one the check brought along for the steps that run after the
    /// set is handed back (content, fan-out).
    /// </summary>
    public StoreTimeBudget Budget { get; private set; } = null!;

    private readonly StoreTimeBudget _ownBudget = new();

    /// <summary>Gives the check its store time budget: <paramref name="given"/>, or the set's own, fresh.</summary>
    public StoreTimeBudget StartBudget(StoreTimeBudget? given, TimeSpan timeout, TimeProvider timeProvider)
        => Budget = given ?? _ownBudget.Reset(timeout, timeProvider);

    public static GuardBuffers Rent()
    {
        GuardBuffers? buffers = t_cached;
        if (buffers is null)
        {
            buffers = RentShared() ?? new GuardBuffers();
        }
        else
        {
            t_cached = null;
        }

        buffers._rented = true;
        return buffers;
    }

    private static GuardBuffers? RentShared()
    {
        if (Volatile.Read(ref s_sharedCount) == 0)
        {
            return null;
        }

        lock (s_sharedLock)
        {
            if (s_sharedCount == 0)
            {
                return null;
            }

            GuardBuffers buffers = s_shared[--s_sharedCount];
            s_shared[s_sharedCount] = null!;
            return buffers;
        }
    }

    private void ReturnShared()
    {
        lock (s_sharedLock)
        {
            if (s_sharedCount < SharedCapacity)
            {
                s_shared[s_sharedCount++] = this;
            }
        }
    }

    /// <summary>
    /// Adds one written recipient: a new entry of <see cref="Recipients"/> unless an equal address is there already, and
    /// one more delivery unless it repeats a way that address was already written (in another case or not); room for it
    /// was made by <see cref="EnsureRecipients"/>.
    /// </summary>
    /// <param name="address">The recipient as the guard keys it.</param>
    /// <param name="written">The recipient as the message writes it.</param>
    /// <returns>Whether it is one more mail to the provider: false for a repeat.</returns>
    public bool AddDelivery(GuardAddress address, string written)
    {
        int known = IndexOf(address);
        if (known < 0)
        {
            int count = RecipientCount;
            Recipients[count] = address;
            Deliveries[count] = 1;
            FirstWritten[count] = written;
            if (count >= LinearRecipients)
            {
                _distinct!.Add(address.Address, count);
            }

            RecipientCount = count + 1;
            DeliveryCount++;
            return true;
        }

        // A repeat of any spelling seen so far, in another case or not, is no other mail: the provider's refusals of it
        // fold into one (FeedbackKeys.MailOf), so counting it would dilute the mailbox's bounce ratio.
        string mail = FeedbackKeys.MailOf(written);
        if (string.Equals(mail, FeedbackKeys.MailOf(FirstWritten[known]!), StringComparison.Ordinal)
            || !(_spellings ??= []).Add((known, mail)))
        {
            return false;
        }

        // One mailbox to the limits (a plus-tag, Gmail dots, an alias), another mail to the provider: it counts as one
        // more against every message-wide cap and the mailbox's own, or a message to 4,000 ways of writing one address
        // would cost 1 while the provider sends 4,000.
        Deliveries[known]++;
        DeliveryCount++;
        return true;
    }

    public void EnsureRecipients(int count)
    {
        if (Recipients.Length < count)
        {
            int length = Math.Max(count, Recipients.Length * 2);
            Recipients = new GuardAddress[length];
            Deliveries = new int[length];
            FirstWritten = new string?[length];
        }
    }

    /// <summary>
    /// Requests written to <see cref="Requests"/> after the plan's <see cref="RequestCount"/>, taken in the same acquire
    /// but not part of the decision: the counters of the send for the ratio breakers.
    /// </summary>
    public int ExtraRequestCount { get; set; }

    /// <summary>
    /// The tenant pool the check decided with (<see cref="GuardPlanBuilder"/>), or null: the pool its sends, a refund's
    /// give-back and its attribution count for in the ratios, whatever the limit cache says later.
    /// </summary>
    public TenantPool? TenantPool { get; set; }

    /// <summary>The caps the check decides by, read once when it starts, so every step of it uses the same ones.</summary>
    public SendGuardCaps Caps { get; set; } = null!;

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
        if (!_rented)
        {
            Debug.Fail("Guard buffers handed back twice.");
            return;
        }

        _rented = false;
        // Drop references so cached addresses and keys are not kept alive by an idle thread.
        Array.Clear(Recipients, 0, RecipientCount);
        Array.Clear(FirstWritten, 0, RecipientCount);
        if (_spellings is not null)
        {
            _spellings.Clear();
            if (_spellings.Capacity > MaxKeptLength)
            {
                _spellings = null;
            }
        }

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
        DeliveryCount = 0;
        RequestCount = 0;
        ExtraRequestCount = 0;
        TenantPool = null;
        Caps = null!;
        Budget = null!;
        if (Recipients.Length > MaxKeptLength)
        {
            Recipients = new GuardAddress[8];
            Deliveries = new int[8];
            FirstWritten = new string?[8];
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

        if (t_cached is null)
        {
            t_cached = this;
        }
        else if (Requests.Length <= SharedKeptLength && Recipients.Length <= SharedKeptLength)
        {
            // Only sets of a usual message's size: 128 sets grown to 256 entries would pin megabytes for good.
            ReturnShared();
        }
    }

    /// <summary>The index in <see cref="Recipients"/> of an address equal to <paramref name="address"/>; -1 when none.</summary>
    private int IndexOf(GuardAddress address)
    {
        int count = RecipientCount;
        if (count < LinearRecipients)
        {
            for (int i = 0; i < count; i++)
            {
                if (ReferenceEquals(Recipients[i], address) || string.Equals(Recipients[i].Address, address.Address, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }

        if (count == LinearRecipients)
        {
            _distinct ??= new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                _distinct.Add(Recipients[i].Address, i);
            }
        }

        return _distinct!.TryGetValue(address.Address, out int index) ? index : -1;
    }
}
