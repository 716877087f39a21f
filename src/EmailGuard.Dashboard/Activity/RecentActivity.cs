using System.Net;

namespace EmailGuard.Dashboard;

/// <summary>
/// A bounded, TTL'd record of this instance's recent activity: per party dimension, a space-saving sketch of usage
/// (permits of allowed messages, net of their refunds) and one of denials, per 5-minute bucket over the last hour; denials and checks per
/// minute for the chart; and the endpoint policies' decisions. Memory is fixed by the bucket count and the sketch
/// capacity, whatever an attacker sends: keys are cut to <see cref="MaxKeyLength"/>, and a message adds at most
/// <see cref="MaxDomainsPerMessage"/> recipient domains.
/// </summary>
internal sealed partial class RecentActivity
{
    public const int MaxKeyLength = 200;
    public const int MaxDomainsPerMessage = 20;
    public const int BucketCount = 12;
    public const int MinuteCount = 60;
    public const int MaxPolicies = 256;
    public static readonly TimeSpan BucketLength = TimeSpan.FromMinutes(5);

    private static readonly int DimensionCount = Enum.GetValues<ActivityDimension>().Length;

    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _capacity;
    private readonly Bucket[] _buckets = new Bucket[BucketCount];
    private readonly long[] _minuteIndex = new long[MinuteCount];
    private readonly long[] _minuteDenials = new long[MinuteCount];
    private readonly long[] _minuteChecks = new long[MinuteCount];
    private readonly RecipientDomainNames _domains = new();
    private (int IPv4, int IPv6) _clientPrefixLengths = (32, IpAddressGrouping.DefaultIPv6PrefixLength);

    public RecentActivity(TimeProvider timeProvider, int capacity)
    {
        _timeProvider = timeProvider;
        _capacity = capacity;
        Array.Fill(_minuteIndex, -1);
    }

    /// <summary>
    /// Groups client addresses as the send guard groups them (<see cref="SendGuardOptions.IPv4PrefixLength"/>,
    /// <see cref="SendGuardOptions.IPv6PrefixLength"/>), so a client network's row is the partition its limits count
    /// and the overview's status lookup by that row reads. Lengths out of range are ignored: the options' validation stops the app.
    /// </summary>
    public void GroupClientsBy(int ipv4PrefixLength, int ipv6PrefixLength)
    {
        if (ipv4PrefixLength is >= 1 and <= 32 && ipv6PrefixLength is >= 1 and <= 128)
        {
            _clientPrefixLengths = (ipv4PrefixLength, ipv6PrefixLength);
        }
    }

    /// <summary>Lists a provider's alias domains under the domain the guard counts them as (<see cref="RecipientDomainNames.FoldAs"/>).</summary>
    public void FoldDomainsAs(EmailAddressNormalizationOptions normalization) => _domains.FoldAs(normalization);

    public void RecordCheck(OutboundEmail message, in EmailSendDecision decision)
    {
        bool denied = !decision.IsAllowed;
        long weight = denied ? 1 : Math.Max(1, message.RecipientCount);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        string? sender = Address(message.Sender);
        string? network = Network(message.ClientIp);
        RecipientDomainNames.DomainList domains = default;
        _domains.Collect(message, ref domains);
        lock (_lock)
        {
            Bucket bucket = Current(now);
            CountParties(message, sender, network, in domains, weight, new Tally(bucket, denied));
            if (denied)
            {
                bucket.Denials++;
                string reason = decision.Reason == EmailSendReason.LimitExceeded
                    ? $"{decision.Reason} ({TenantPoolText.Dimension(decision.Dimension, decision.Partition)})"
                    : decision.Reason.ToString();
                bucket.DenialReasons[reason] = bucket.DenialReasons.GetValueOrDefault(reason) + 1;
            }

            bucket.Checks++;
            long minute = now.ToUnixTimeSeconds() / 60;
            int slot = (int)(minute % MinuteCount);
            if (_minuteIndex[slot] != minute)
            {
                _minuteIndex[slot] = minute;
                _minuteDenials[slot] = 0;
                _minuteChecks[slot] = 0;
            }

            _minuteChecks[slot]++;
            if (denied)
            {
                _minuteDenials[slot]++;
            }
        }
    }

    /// <summary>
    /// Takes a refunded check's permits off the parties <see cref="RecordCheck"/> counted them for, never below zero:
    /// from the bucket of <paramref name="checkedAt"/> (the decision's timestamp, on the store's clock) first, then from
    /// the live buckets nearest to it, so a clock that differs by a little, or a reservation's later time, still finds
    /// them. Permits whose bucket is an hour old are gone already; those of a party the sketch no longer tracks cannot be
    /// taken off (the count that replaced it carries them as its ≈ error).
    /// </summary>
    public void RecordRefund(OutboundEmail message, DateTimeOffset checkedAt)
    {
        long weight = Math.Max(1, message.RecipientCount);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        string? sender = Address(message.Sender);
        string? network = Network(message.ClientIp);
        RecipientDomainNames.DomainList domains = default;
        _domains.Collect(message, ref domains);
        lock (_lock)
        {
            long target = (checkedAt < now ? checkedAt : now).UtcTicks / BucketLength.Ticks;
            Bucket[] nearest = [.. Live().OrderBy(b => Math.Abs(b.Index - target)).ThenByDescending(b => b.Index)];
            if (nearest.Length > 0)
            {
                CountParties(message, sender, network, in domains, weight, new Tally(nearest));
            }
        }
    }

    /// <summary>
    /// Whether the endpoint let a request with this <c>emailguard.outcome</c> through: admitted, allowlisted, unguarded
    /// by the failure mode, or only logged in shadow mode. Every other outcome answered the client with a refusal.
    /// </summary>
    internal static bool LetThrough(string outcome)
        => outcome is "allowed" or "allowlisted" or "unguarded" || outcome.StartsWith("shadow_", StringComparison.Ordinal);

    public void RecordPolicyDecision(string policy, string outcome)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            Bucket bucket = Current(now);
            if (!bucket.Policies.TryGetValue(policy, out PolicyCounts? counts))
            {
                if (bucket.Policies.Count >= MaxPolicies)
                {
                    return;
                }

                bucket.Policies[policy] = counts = new PolicyCounts();
            }

            if (LetThrough(outcome))
            {
                counts.Allowed++;
            }
            else
            {
                counts.Denied++;
            }

            counts.ByOutcome[outcome] = counts.ByOutcome.GetValueOrDefault(outcome) + 1;
        }
    }

    /// <summary>The top parties of one dimension over the last hour, by usage or by denials.</summary>
    public IReadOnlyList<TopParty> Top(ActivityDimension dimension, bool denials, int take)
    {
        Dictionary<string, (long Count, long Error)> merged = new(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (Bucket bucket in Live())
            {
                SpaceSavingSketch sketch = denials ? bucket.Denied[(int)dimension] : bucket.Used[(int)dimension];
                foreach (KeyValuePair<string, SpaceSavingSketch.Counter> pair in sketch.Items)
                {
                    (long count, long error) = merged.GetValueOrDefault(pair.Key);
                    merged[pair.Key] = (count + pair.Value.Count, error + pair.Value.Error);
                }
            }
        }

        return [.. merged.OrderByDescending(p => p.Value.Count).ThenBy(p => p.Key, StringComparer.Ordinal).Take(take).Select(p => new TopParty(p.Key, p.Value.Count, p.Value.Error))];
    }

    /// <summary>Denials and checks per minute, oldest first, ending with the current minute.</summary>
    public IReadOnlyList<(DateTimeOffset Minute, long Denials, long Checks)> PerMinute()
    {
        long current = _timeProvider.GetUtcNow().ToUnixTimeSeconds() / 60;
        List<(DateTimeOffset, long, long)> result = new(MinuteCount);
        lock (_lock)
        {
            for (long minute = current - MinuteCount + 1; minute <= current; minute++)
            {
                int slot = (int)(((minute % MinuteCount) + MinuteCount) % MinuteCount);
                bool live = _minuteIndex[slot] == minute;
                result.Add((DateTimeOffset.FromUnixTimeSeconds(minute * 60), live ? _minuteDenials[slot] : 0, live ? _minuteChecks[slot] : 0));
            }
        }

        return result;
    }

    public (long Checks, long Denials, IReadOnlyDictionary<string, long> Reasons) Totals()
    {
        long checks = 0, denials = 0;
        Dictionary<string, long> reasons = new(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (Bucket bucket in Live())
            {
                checks += bucket.Checks;
                denials += bucket.Denials;
                foreach (KeyValuePair<string, long> pair in bucket.DenialReasons)
                {
                    reasons[pair.Key] = reasons.GetValueOrDefault(pair.Key) + pair.Value;
                }
            }
        }

        return (checks, denials, reasons);
    }

    public IReadOnlyList<(string Policy, long Allowed, long Denied, IReadOnlyDictionary<string, long> ByOutcome)> Policies()
    {
        Dictionary<string, PolicyCounts> merged = new(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (Bucket bucket in Live())
            {
                foreach (KeyValuePair<string, PolicyCounts> pair in bucket.Policies)
                {
                    if (!merged.TryGetValue(pair.Key, out PolicyCounts? sum))
                    {
                        merged[pair.Key] = sum = new PolicyCounts();
                    }

                    sum.Allowed += pair.Value.Allowed;
                    sum.Denied += pair.Value.Denied;
                    foreach (KeyValuePair<string, long> outcome in pair.Value.ByOutcome)
                    {
                        sum.ByOutcome[outcome.Key] = sum.ByOutcome.GetValueOrDefault(outcome.Key) + outcome.Value;
                    }
                }
            }
        }

        return [.. merged.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.Allowed, p.Value.Denied, (IReadOnlyDictionary<string, long>)p.Value.ByOutcome))];
    }

    /// <summary>
    /// The client network a dimension key stands for: the send guard's partition in CIDR notation
    /// (<see cref="ClientNetworkText"/>), e.g. <c>203.0.113.7/32</c>, <c>203.0.113.0/24</c> or <c>2001:db8::/64</c>.
    /// </summary>
    internal string? Network(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        (int ipv4, int ipv6) = _clientPrefixLengths;
        return ClientNetworkText.Cidr(IpAddressGrouping.GetPartition(address, ipv6PrefixLength: ipv6, ipv4PrefixLength: ipv4));
    }

    private static string? Address(string? address)
        => string.IsNullOrWhiteSpace(address) ? null : address.Trim().ToLowerInvariant();

    /// <summary>
    /// The parties of one message, as a check counts them and a refund takes them off again: one path, so the two cannot
    /// disagree on a key. Recipient domains are counted by registrable domain, as the cap counts them: a rotation over
    /// x1.victim.com, x2.victim.com, … is one victim.com at the top of the list, not a thousand domains of one mail each
    /// below it (<see cref="RecipientDomainNames"/>, found before the lock).
    /// </summary>
    private static void CountParties(OutboundEmail message, string? sender, string? network, in RecipientDomainNames.DomainList domains, long weight, in Tally tally)
    {
        tally.Count(ActivityDimension.Tenant, message.TenantId, weight);
        tally.Count(ActivityDimension.User, message.UserId, weight);
        tally.Count(ActivityDimension.Sender, sender, weight);
        tally.Count(ActivityDimension.Category, message.Category, weight);
        tally.Count(ActivityDimension.ClientNetwork, network, weight);
        for (int i = 0; i < domains.Count; i++)
        {
            tally.Count(ActivityDimension.RecipientDomain, domains[i], 1);
        }
    }

    /// <summary>
    /// Where a message's parties are counted: added to one bucket's usage or denials (a check), or taken off the usage
    /// of the given buckets in their order (a refund), until the weight is gone.
    /// </summary>
    private readonly struct Tally
    {
        private readonly Bucket? _bucket;
        private readonly bool _denied;
        private readonly Bucket[]? _refundFrom;

        public Tally(Bucket bucket, bool denied)
        {
            _bucket = bucket;
            _denied = denied;
        }

        public Tally(Bucket[] refundFrom) => _refundFrom = refundFrom;

        public void Count(ActivityDimension dimension, string? key, long weight)
        {
            if (string.IsNullOrEmpty(key))
            {
                return;
            }

            if (key.Length > MaxKeyLength)
            {
                key = key[..MaxKeyLength];
            }

            if (_bucket is not null)
            {
                (_denied ? _bucket.Denied : _bucket.Used)[(int)dimension].Add(key, weight);
                return;
            }

            for (int i = 0; i < _refundFrom!.Length && weight > 0; i++)
            {
                weight -= _refundFrom[i].Used[(int)dimension].Subtract(key, weight);
            }
        }
    }

    private Bucket Current(DateTimeOffset now)
    {
        long index = now.UtcTicks / BucketLength.Ticks;
        int slot = (int)(index % BucketCount);
        Bucket? bucket = _buckets[slot];
        if (bucket is null || bucket.Index != index)
        {
            // The slot's previous bucket is an hour old: it is dropped whole, which is the record's TTL.
            _buckets[slot] = bucket = new Bucket(index, _capacity);
        }

        return bucket;
    }

    private IEnumerable<Bucket> Live()
    {
        long current = _timeProvider.GetUtcNow().UtcTicks / BucketLength.Ticks;
        foreach (Bucket? bucket in _buckets)
        {
            if (bucket is not null && bucket.Index > current - BucketCount && bucket.Index <= current)
            {
                yield return bucket;
            }
        }
    }
}
