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
    /// <see cref="MinPrefixLength"/> characters; <see langword="null"/> when none is that close.
    /// </summary>
    internal static string? Nearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        string? completed = null;
        int completions = 0;
        foreach (string candidate in known)
        {
            int distance = EditDistance(key, candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }

            if (key.Length >= MinPrefixLength && candidate.StartsWith(key, StringComparison.OrdinalIgnoreCase))
            {
                completed = candidate;
                completions++;
            }
        }

        if (best is not null && bestDistance <= Math.Max(2, best.Length / 3))
        {
            return best;
        }

        return completions == 1 ? completed : null;
    }

    private static int EditDistance(string a, string b)
    {
        a = a.ToUpperInvariant();
        b = b.ToUpperInvariant();
        int[] previous = new int[b.Length + 1];
        int[] current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
