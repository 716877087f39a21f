using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The usage a decision carries, kept compact and turned into <see cref="EmailSendRuleUsage"/> values only when read:
/// the shape of the check (shared, immutable; <see cref="GuardUsageShape"/>), the recipient that fills its templates,
/// and per request what the store answered. Nothing refers to the check's pooled buffers, so the decision stays valid
/// whatever the thread does next.
/// </summary>
/// <remarks>
/// An admitted request whose entry says no more than its rule does (allowed, no wait, the rule's limit) is one number:
/// its count and its reset time, relative to the first request's, packed into a <see cref="long"/>. Up to
/// <see cref="InlineCapacity"/> of them are kept inline, so the common check allocates nothing; more go to an array of
/// 8 bytes each, and a denial copies the store's entries.
/// </remarks>
internal readonly struct GuardUsage
{
    public const int InlineCapacity = 8;

    private const long TicksPerMillisecond = TimeSpan.TicksPerMillisecond;

    private readonly GuardUsageShape? _shape;
    private readonly GuardAddress? _recipient;

    /// <summary>
    /// Without a shape, the materialized <see cref="EmailSendRuleUsage"/> array (or null); with one, a
    /// <see cref="RateLimitEntry"/> array, the packed entries when there are more than fit inline (a <see cref="long"/>
    /// array), or null when they are packed in <see cref="_packed"/>.
    /// </summary>
    private readonly object? _values;
    private readonly long _baseTicks;
    private readonly Packed _packed;

    public GuardUsage(EmailSendRuleUsage[]? usage)
    {
        _values = usage;
    }

    private GuardUsage(GuardUsageShape shape, GuardAddress? recipient, object? values, long baseTicks, in Packed packed)
    {
        _shape = shape;
        _recipient = recipient;
        _values = values;
        _baseTicks = baseTicks;
        _packed = packed;
    }

    public int Length => _shape?.Length ?? (_values as EmailSendRuleUsage[])?.Length ?? 0;

    public EmailSendRuleUsage this[int index]
    {
        get
        {
            if (_shape is null)
            {
                return ((EmailSendRuleUsage[])_values!)[index];
            }

            RequestTag tag = _shape.GetTag(index, _recipient);
            RateLimitRequest request = _shape.GetRequest(index, _recipient);
            return new EmailSendRuleUsage(tag.Dimension, tag.Partition, request, GetEntry(request.Rule, index));
        }
    }

    /// <summary>The usage of the check in <paramref name="buffers"/>, copied out of them.</summary>
    public static GuardUsage Capture(GuardBuffers buffers)
    {
        int count = buffers.RequestCount;
        if (count == 0)
        {
            return default;
        }

        GuardUsageShape shape = GuardUsageShape.Of(buffers, out GuardAddress? recipient);
        RateLimitEntry[] entries = buffers.Entries;
        RateLimitRequest[] requests = buffers.Requests;
        long baseTicks = entries[0].ResetAt.UtcTicks;
        Packed packed = default;
        long[]? spilled = count > InlineCapacity ? new long[count] : null;
        Span<long> into = spilled is null ? packed : spilled;
        for (int i = 0; i < count; i++)
        {
            if (!TryPack(entries[i], requests[i].Rule, baseTicks, out into[i]))
            {
                return Unpacked(shape, recipient, entries, count);
            }
        }

        return new GuardUsage(shape, recipient, spilled, baseTicks, packed);
    }

    /// <summary>The usage of a check whose entries do not all pack (a denial, a wait): a copy of the store's entries.</summary>
    /// <remarks>Not inlined: its usage would be a second local of <see cref="Capture"/>'s, zeroed on every check.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GuardUsage Unpacked(GuardUsageShape shape, GuardAddress? recipient, RateLimitEntry[] entries, int count)
        => new(shape, recipient, entries.AsSpan(0, count).ToArray(), 0, default);

    public RateLimitRequest GetRequest(int index) => _shape is null ? this[index].Request : _shape.GetRequest(index, _recipient);

    public EmailGuardDimension GetDimension(int index) => _shape is null ? this[index].Dimension : _shape.GetDimension(index);

    public long GetRemaining(int index) => _shape is null ? this[index].Remaining : GetEntry(_shape.GetRule(index), index).Remaining;

    /// <summary>Whether the request at <paramref name="index"/> counts a party's own copies of a content key: kept for the content steps and refunds, left out of the public usage.</summary>
    public bool IsOwnCopies(int index) => _shape?.IsOwnCopies(index) ?? false;

    /// <summary>The tag of the request at <paramref name="index"/>; default for a usage given as an array.</summary>
    public RequestTag GetTag(int index) => _shape?.GetTag(index, _recipient) ?? default;

    /// <summary>What the store answered for the request at <paramref name="index"/>.</summary>
    public RateLimitEntry GetEntry(int index) => _shape is null ? this[index].Entry : GetEntry(_shape.GetRule(index), index);

    /// <summary>
    /// A new array of the usage (the one the decision was made with, when it was), or null when empty: every request but
    /// the counters of a party's own copies of a text, which are no rule of the app's.
    /// </summary>
    public EmailSendRuleUsage[]? ToArray()
    {
        if (_shape is null)
        {
            return _values as EmailSendRuleUsage[];
        }

        EmailSendRuleUsage[] usage = new EmailSendRuleUsage[_shape.Visible];
        for (int i = 0, v = 0; v < usage.Length; i++)
        {
            if (!_shape.IsOwnCopies(i))
            {
                usage[v++] = this[i];
            }
        }

        return usage;
    }

    /// <summary>Count in the low 32 bits, the reset time in milliseconds after the first request's in the high 32 (signed).</summary>
    /// <remarks>Inlined into <see cref="Capture"/>, which packs every entry of every check; the milliseconds are divided out once.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPack(in RateLimitEntry entry, RateLimitRule rule, long baseTicks, out long packed)
    {
        packed = 0;
        long delta = entry.ResetAt.UtcTicks - baseTicks;
        long deltaMs = delta / TicksPerMillisecond;
        if (!entry.IsAllowed || entry.RetryAfter != TimeSpan.Zero || entry.Limit != rule.Limit || entry.ResetAt.Offset != TimeSpan.Zero
            || (ulong)entry.Count > uint.MaxValue || deltaMs * TicksPerMillisecond != delta || deltaMs is < int.MinValue or > int.MaxValue)
        {
            return false;
        }

        packed = (deltaMs << 32) | entry.Count;
        return true;
    }

    private RateLimitEntry GetEntry(RateLimitRule rule, int index)
    {
        if (_values is RateLimitEntry[] entries)
        {
            return entries[index];
        }

        long packed = _values is long[] spilled ? spilled[index] : _packed[index];
        long resetTicks = _baseTicks + ((packed >> 32) * TicksPerMillisecond);
        return new RateLimitEntry(true, packed & uint.MaxValue, rule.Limit, TimeSpan.Zero, new DateTimeOffset(resetTicks, TimeSpan.Zero));
    }

    [InlineArray(InlineCapacity)]
    private struct Packed
    {
        private long _first;
    }
}
