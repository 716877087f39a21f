namespace EmailGuard;

/// <summary>
/// The volume horizon of the ratios: the last <see cref="EmailFeedbackOptions.CountLastSends"/> sends of a party, the way
/// providers measure ("the last 10,192 eligible emails"), next to the rolling time window.
/// </summary>
/// <remarks>
/// <para>
/// Each party has a sequence counter of its sends per period (<see cref="EmailFeedbackOptions.CountLastSendsWithin"/>,
/// periods aligned to the Unix epoch, the period's index in the key). A hard bounce or complaint goes to the bucket of
/// the party's latest send when the feedback arrives (bucket <c>(sequence - 1) / B</c>, B a tenth of the horizon), so
/// the sends of a bucket are known from the sequence alone and only failures are stored per bucket. The horizon reads
/// the newest buckets until they cover at least the horizon's sends, reaching back into the previous period when the
/// current one is young. Counters live three periods on a sliding window, which keeps a period's counts exact for the
/// two periods that can read them.
/// </para>
/// <para>
/// Feedback arrives within minutes, so it lands in the bucket of the bouncing mail or a neighbour: the horizon covers the
/// last N sends to N plus a tenth, and what is older than the previous period is forgotten whatever the volume.
/// </para>
/// </remarks>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>The buckets a horizon is split into; its reading covers N to N + N/10 sends.</summary>
    internal const int VolumeBuckets = 10;

    /// <summary>The period index and sequence keys of the send being counted, by the send counter's key.</summary>
    private readonly BoundedKeyCache<(string SendKey, long Period), string> _sequenceKeys = new();

    /// <summary>The rule of the sequence and bucket counters: a sliding window of three periods; null when the horizon is off.</summary>
    private RateLimitRule? _volumeRule;

    /// <summary>The sends one bucket covers.</summary>
    private long _bucketSends;

    private bool VolumeOn => _volumeRule is not null;

    private void InitVolume()
    {
        if (_options.CountLastSends <= 0)
        {
            return;
        }

        TimeSpan window = _options.CountLastSendsWithin * 3;
        _volumeRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, window, SegmentsFor(window));
        _bucketSends = Math.Max(1, (_options.CountLastSends + VolumeBuckets - 1) / VolumeBuckets);
    }

    private long Period() => Period(_timeProvider.GetUtcNow());

    private long Period(DateTimeOffset at) => at.ToUnixTimeMilliseconds() / (long)_options.CountLastSendsWithin.TotalMilliseconds;

    /// <summary>The sequence counter of a party in a period, from the key of its send counter (<c>fb:x:…</c>).</summary>
    private string SequenceKey(string sendKey, long period)
        => _sequenceKeys.GetOrAdd((sendKey, period), 0, static (k, _) => "fb:q:" + k.SendKey[5..] + "@" + k.Period.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string BucketKey(char kind, EmailGuardDimension dimension, string? partition, long period, long bucket)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{FeedbackKeys.Count(kind, dimension, partition)}@{period}#{bucket}");

    /// <summary>A send's sequence request, to ride with its send counter (numbering each of its recipients); null when the horizon is off.</summary>
    private RateLimitRequest? SequenceRequest(string sendKey, long period, long sends = 1)
        => _volumeRule is { } rule ? new RateLimitRequest(SequenceKey(sendKey, period), rule, sends) : null;

    /// <summary>
    /// Adds the bucket counters of a hard bounce or complaint to <paramref name="requests"/>: for each party, the bucket
    /// of its latest send. One peek of the sequences.
    /// </summary>
    /// <returns>False when the store did not answer.</returns>
    private async ValueTask<bool> AddVolumeFailuresAsync(
        char kind, List<(EmailGuardDimension Dimension, string? Partition)> parties, List<RateLimitRequest> requests, CancellationToken cancellationToken)
    {
        long period = Period();
        RateLimitRequest[] peeks = new RateLimitRequest[parties.Count];
        for (int i = 0; i < parties.Count; i++)
        {
            peeks[i] = new RateLimitRequest(SequenceKey(FeedbackKeys.Count(FeedbackKeys.Sends, parties[i].Dimension, parties[i].Partition), period), _volumeRule!, 0);
        }

        RateLimitEntry[] sequences = new RateLimitEntry[peeks.Length];
        RateLimitDecision decision = await _store.PeekAsync(peeks, sequences, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            return false;
        }

        for (int i = 0; i < parties.Count; i++)
        {
            long bucket = sequences[i].Count == 0 ? 0 : (sequences[i].Count - 1) / _bucketSends;
            requests.Add(new RateLimitRequest(BucketKey(kind, parties[i].Dimension, parties[i].Partition, period, bucket), _volumeRule!));
        }

        return true;
    }

    /// <summary>The sequence peeks of the parties, this period's and the previous one's, for <see cref="ReadVolumeAsync"/>.</summary>
    private void AddSequencePeeks(List<(EmailGuardDimension Dimension, string? Partition)> parties, long period, RateLimitRequest[] into, int at)
    {
        for (int p = 0; p < parties.Count; p++)
        {
            string sendKey = FeedbackKeys.Count(FeedbackKeys.Sends, parties[p].Dimension, parties[p].Partition);
            into[at + (2 * p)] = new RateLimitRequest(SequenceKey(sendKey, period), _volumeRule!, 0);
            into[at + (2 * p) + 1] = new RateLimitRequest(SequenceKey(sendKey, period - 1), _volumeRule!, 0);
        }
    }

    /// <summary>
    /// Reads the volume horizon of each party from its sequences (<paramref name="sequences"/>, this period's and the
    /// previous one's per party): the newest buckets that cover at least the horizon's sends, hard bounces and complaints.
    /// </summary>
    private async ValueTask<(long Sends, long Bounces, long Complaints)[]> ReadVolumeAsync(
        List<(EmailGuardDimension Dimension, string? Partition)> parties, long period, ReadOnlyMemory<RateLimitEntry> sequences, CancellationToken cancellationToken)
    {
        (long Sends, long Bounces, long Complaints)[] horizon = new (long, long, long)[parties.Count];
        List<RateLimitRequest> peeks = [];
        List<int> owners = [];
        for (int p = 0; p < parties.Count; p++)
        {
            long covered = 0;
            void Add(long inPeriod, long bucket)
            {
                peeks.Add(new RateLimitRequest(BucketKey('b', parties[p].Dimension, parties[p].Partition, inPeriod, bucket), _volumeRule!, 0));
                peeks.Add(new RateLimitRequest(BucketKey('c', parties[p].Dimension, parties[p].Partition, inPeriod, bucket), _volumeRule!, 0));
                owners.Add(p);
            }

            bool Walk(long inPeriod, long sequence)
            {
                for (long bucket = (sequence - 1) / _bucketSends; bucket >= 0; bucket--)
                {
                    Add(inPeriod, bucket);
                    covered += bucket == (sequence - 1) / _bucketSends ? sequence - (bucket * _bucketSends) : _bucketSends;
                    if (covered >= _options.CountLastSends)
                    {
                        return true;
                    }
                }

                return false;
            }

            long current = sequences.Span[2 * p].Count;
            long previous = sequences.Span[(2 * p) + 1].Count;
            if (current == 0)
            {
                // Feedback that came before this period's first send.
                Add(period, 0);
            }
            else if (Walk(period, current))
            {
                horizon[p].Sends = covered;
                continue;
            }

            if (previous > 0)
            {
                Walk(period - 1, previous);
            }

            horizon[p].Sends = covered;
        }

        RateLimitEntry[] entries = new RateLimitEntry[peeks.Count];
        RateLimitDecision decision = await _store.PeekAsync(peeks.ToArray(), entries, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            throw new EmailGuardStoreUnavailableException("The EmailGuard store did not answer: the feedback counts could not be read.");
        }

        for (int i = 0; i < owners.Count; i++)
        {
            horizon[owners[i]].Bounces += entries[2 * i].Count;
            horizon[owners[i]].Complaints += entries[(2 * i) + 1].Count;
        }

        return horizon;
    }
}
