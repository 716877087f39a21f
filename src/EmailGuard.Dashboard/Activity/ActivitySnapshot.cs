using System.Globalization;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// What one instance publishes of its recent activity for the other instances' dashboards: its top parties per
/// dimension (by usage and by denials), totals and denial reasons, denials and checks per minute, endpoint-policy
/// decisions, and its last events. Encoded as a few small ASCII values, each within the key-value store's 4,096
/// printable ASCII characters (<see cref="IEmailGuardKeyValueStore"/>): names are percent-encoded, lines are separated by
/// spaces, and a list that would not fit is cut at its least important end (the smallest counts, the oldest events).
/// </summary>
internal sealed class ActivitySnapshot
{
    /// <summary>How many parties each published top list holds: enough for a merged top 10 of a few instances.</summary>
    public const int TopPerList = 20;

    /// <summary>How many of its latest events an instance publishes.</summary>
    public const int EventCount = 20;

    /// <summary>The largest value written, under the key-value store's limit of 4,096 characters.</summary>
    public const int MaxValueLength = 4_000;

    /// <summary>
    /// Separates the lines of a value: a space, since the store takes printable ASCII only, and no line holds one
    /// (names are percent-encoded).
    /// </summary>
    private const char LineSeparator = ' ';

    public const string TotalsPart = "totals";
    public const string MinutesPart = "minutes";
    public const string PoliciesPart = "policies";
    public const string EventsPart = "events";

    public required string InstanceId { get; init; }

    public Dictionary<(ActivityDimension Dimension, bool Denials), IReadOnlyList<TopParty>> Top { get; } = [];

    public long Checks { get; set; }

    public long Denials { get; set; }

    public Dictionary<string, long> Reasons { get; } = new(StringComparer.Ordinal);

    public List<(DateTimeOffset Minute, long Denials, long Checks)> Minutes { get; } = [];

    public List<(string Policy, long Allowed, long Denied, IReadOnlyDictionary<string, long> ByOutcome)> Policies { get; } = [];

    public List<DashboardEvent> Events { get; } = [];

    /// <summary>The name of a top list's part, e.g. <c>top-Tenant-d</c>.</summary>
    public static string TopPart(ActivityDimension dimension, bool denials) => $"top-{dimension}-{(denials ? 'd' : 'u')}";

    /// <summary>The parts to publish: every value starts with the instance id, so a reader never mixes two instances.</summary>
    public IEnumerable<(string Part, string Value)> Encode()
    {
        foreach (((ActivityDimension dimension, bool denials), IReadOnlyList<TopParty> parties) in Top)
        {
            yield return (TopPart(dimension, denials), Lines(parties.Select(p => $"{p.Count},{p.Error},{Escape(p.Key)}")));
        }

        yield return (TotalsPart, Lines(
            new[] { $"{Checks},{Denials}" }.Concat(Reasons.OrderByDescending(r => r.Value).Select(r => $"{r.Value},{Escape(r.Key)}"))));
        yield return (MinutesPart, Lines(Minutes.Select(m => $"{m.Minute.ToUnixTimeSeconds()},{m.Denials},{m.Checks}")));
        yield return (PoliciesPart, Lines(Policies.OrderByDescending(p => p.Allowed + p.Denied).Select(p =>
            $"{p.Allowed},{p.Denied},{Escape(p.Policy)},{string.Join(';', p.ByOutcome.Select(o => $"{Escape(o.Key)}={o.Value}"))}")));
        yield return (EventsPart, Lines(Events.Select(e =>
            $"{e.At.ToUnixTimeMilliseconds()},{Escape(e.Kind)},{Escape(e.Title)},{(e.Detail is null ? "-" : Escape(e.Detail))}")));
    }

    /// <summary>Reads the parts one instance published; a part that is missing or malformed is left empty.</summary>
    public static ActivitySnapshot Decode(string instanceId, IReadOnlyDictionary<string, string?> parts)
    {
        ActivitySnapshot snapshot = new() { InstanceId = instanceId };
        foreach (ActivityDimension dimension in Enum.GetValues<ActivityDimension>())
        {
            foreach (bool denials in (bool[])[false, true])
            {
                List<TopParty> parties = [];
                foreach (string[] f in Rows(instanceId, parts, TopPart(dimension, denials), 3))
                {
                    if (Long(f[0]) is { } count && Long(f[1]) is { } error && Unescape(f[2]) is { } key)
                    {
                        parties.Add(new TopParty(key, count, error));
                    }
                }

                snapshot.Top[(dimension, denials)] = parties;
            }
        }

        bool first = true;
        foreach (string[] f in Rows(instanceId, parts, TotalsPart, 2))
        {
            if (first)
            {
                first = false;
                snapshot.Checks = Long(f[0]) ?? 0;
                snapshot.Denials = Long(f[1]) ?? 0;
            }
            else if (Long(f[0]) is { } count && Unescape(f[1]) is { } reason)
            {
                snapshot.Reasons[reason] = count;
            }
        }

        foreach (string[] f in Rows(instanceId, parts, MinutesPart, 3))
        {
            if (Long(f[0]) is { } minute && Long(f[1]) is { } denied && Long(f[2]) is { } checks)
            {
                snapshot.Minutes.Add((DateTimeOffset.FromUnixTimeSeconds(minute), denied, checks));
            }
        }

        foreach (string[] f in Rows(instanceId, parts, PoliciesPart, 4))
        {
            if (Long(f[0]) is { } allowed && Long(f[1]) is { } denied && Unescape(f[2]) is { } policy)
            {
                Dictionary<string, long> byOutcome = new(StringComparer.Ordinal);
                foreach (string pair in f[3].Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    string[] kv = pair.Split('=');
                    if (kv.Length == 2 && Unescape(kv[0]) is { } outcome && Long(kv[1]) is { } count)
                    {
                        byOutcome[outcome] = count;
                    }
                }

                snapshot.Policies.Add((policy, allowed, denied, byOutcome));
            }
        }

        foreach (string[] f in Rows(instanceId, parts, EventsPart, 4))
        {
            if (Long(f[0]) is { } at && Unescape(f[1]) is { } kind && Unescape(f[2]) is { } title)
            {
                snapshot.Events.Add(new DashboardEvent(DateTimeOffset.FromUnixTimeMilliseconds(at), kind, title, f[3] == "-" ? null : Unescape(f[3])));
            }
        }

        return snapshot;
    }

    /// <summary>The instance id, then the lines that fit in <see cref="MaxValueLength"/>, most important first.</summary>
    private string Lines(IEnumerable<string> lines)
    {
        StringBuilder value = new(InstanceId);
        foreach (string line in lines)
        {
            if (value.Length + 1 + line.Length > MaxValueLength)
            {
                break;
            }

            value.Append(LineSeparator).Append(line);
        }

        return value.ToString();
    }

    /// <summary>The rows of one part with exactly <paramref name="fields"/> fields, if the part is this instance's.</summary>
    private static IEnumerable<string[]> Rows(string instanceId, IReadOnlyDictionary<string, string?> parts, string part, int fields)
    {
        if (parts.GetValueOrDefault(part) is not { } value)
        {
            yield break;
        }

        string[] lines = value.Split(LineSeparator);
        if (lines[0] != instanceId)
        {
            yield break;
        }

        for (int i = 1; i < lines.Length; i++)
        {
            string[] f = lines[i].Split(',');
            if (f.Length == fields)
            {
                yield return f;
            }
        }
    }

    private static string Escape(string text)
    {
        try
        {
            return Uri.EscapeDataString(text);
        }
        catch (UriFormatException)
        {
            // A name with a lone surrogate (hostile input) cannot be percent-encoded as UTF-8.
            return Uri.EscapeDataString(new string([.. text.Select(c => char.IsSurrogate(c) ? '?' : c)]));
        }
    }

    private static string? Unescape(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            return null;
        }
    }

    private static long? Long(string text)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;
}
