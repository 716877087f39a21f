namespace EmailGuard;

/// <summary>"Did you mean" suggestions for an unknown key: the nearest known name by edit distance, or the one it begins.</summary>
internal static partial class StrictConfiguration
{
    /// <summary>The shortest key taken for the start of a longer name: shorter ones (<c>Max</c>) name too little.</summary>
    private const int MinPrefixLength = 4;

    /// <summary>
    /// "; did you mean X?" for a near miss, or for a name cut short that only one known name begins with
    /// (<c>IPV4Prefix</c>: <c>IPv4PrefixLength</c>, too far by edit distance); else the known names.
    /// </summary>
    internal static string Suggest(string key, IEnumerable<string> known, string typeName)
        => Nearest(key, known) is { } nearest ? $"; did you mean {nearest}?" : $"; {typeName} has {string.Join(", ", known)}.";

    /// <summary>
    /// The known name <paramref name="key"/> most likely misspells: the nearest by edit distance (case-insensitive) when it
    /// is within a third of its length (two edits at least), else the only one that begins with a key of at least
    /// <see cref="MinPrefixLength"/> characters; <see langword="null"/> when none is that close. Of names equally near, the
    /// first.
    /// </summary>
    /// <remarks>
    /// Called for every served path of an app with tens of thousands of endpoints (the unserved path rule check), so no
    /// distance is computed further than could change the answer. A name within a third of its own length of the key is
    /// at most half the key's length away (it is at most half as long again), so a name further than that is never the
    /// answer, and when the nearest is that far, none is; a name only as near as the nearest so far loses to it. Each
    /// distance is computed within that bound only (<see cref="BoundedEditDistance"/>).
    /// </remarks>
    internal static string? Nearest(string key, IEnumerable<string> known)
    {
        string upperKey = key.ToUpperInvariant();
        int useful = Math.Max(2, key.Length / 2);
        var previous = new int[upperKey.Length + 1];
        var current = new int[upperKey.Length + 1];
        char[] upper = [];
        string? best = null;
        int bestDistance = int.MaxValue;
        string? completed = null;
        int completions = 0;
        foreach (string candidate in known)
        {
            if (key.Length >= MinPrefixLength && candidate.StartsWith(key, StringComparison.OrdinalIgnoreCase))
            {
                completed = candidate;
                completions++;
            }

            int bound = Math.Min(useful, bestDistance - 1);
            if (Math.Abs(candidate.Length - key.Length) > bound)
            {
                continue;
            }

            if (upper.Length < candidate.Length)
            {
                upper = new char[Math.Max(candidate.Length, upper.Length * 2)];
            }

            // Upper-casing keeps a string's length: the distance between the upper-cased names bounds it as between the names.
            int length = candidate.AsSpan().ToUpperInvariant(upper);
            int distance = BoundedEditDistance(upper.AsSpan(0, length), upperKey, bound, previous, current);
            if (distance <= bound)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        if (best is not null && bestDistance <= Math.Max(2, best.Length / 3))
        {
            return best;
        }

        return completions == 1 ? completed : null;
    }

    /// <summary>
    /// The edit distance between <paramref name="a"/> and <paramref name="b"/> when it is at most <paramref name="bound"/>,
    /// else <paramref name="bound"/> + 1: only the cells within <paramref name="bound"/> of the diagonal are computed (any
    /// other is further than that), and a row whose every cell is further ends the computation, as every later row is.
    /// </summary>
    /// <param name="a">The first string.</param>
    /// <param name="b">The second string.</param>
    /// <param name="bound">The largest distance wanted, zero or more.</param>
    /// <param name="previous">A row of at least <paramref name="b"/>'s length + 1, overwritten.</param>
    /// <param name="current">Another such row, overwritten.</param>
    private static int BoundedEditDistance(ReadOnlySpan<char> a, ReadOnlySpan<char> b, int bound, int[] previous, int[] current)
    {
        int over = bound + 1;
        if (Math.Abs(a.Length - b.Length) > bound)
        {
            return over;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = Math.Min(j, over);
        }

        for (int i = 1; i <= a.Length; i++)
        {
            int from = Math.Max(1, i - bound);
            int to = Math.Min(b.Length, i + bound);
            current[0] = Math.Min(i, over);
            current[from - 1] = from == 1 ? current[0] : over;
            int rowMinimum = current[from - 1];
            for (int j = from; j <= to; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                int cell = Math.Min(over, Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1));
                current[j] = cell;
                rowMinimum = Math.Min(rowMinimum, cell);
            }

            // The cell past the band is what the next row reads above its own band's last cell.
            if (to < b.Length)
            {
                current[to + 1] = over;
            }

            if (rowMinimum > bound)
            {
                return over;
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
