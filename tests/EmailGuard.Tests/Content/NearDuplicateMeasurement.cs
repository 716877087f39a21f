using EmailGuard.Testing.Content;

namespace EmailGuard.Tests.Content;

/// <summary>Measures a near-duplicate sketch on a corpus: colliding pairs of different mails, and rewrites caught.</summary>
internal static class NearDuplicateMeasurement
{
    /// <summary>The band keys of <paramref name="content"/>, empty when the text is too short for any.</summary>
    public static string[] BandKeys(NearDuplicateSketch sketch, EmailContent content)
    {
        byte[] hashes = new byte[sketch.Bands * NearDuplicateSketch.BandHashBytes];
        ContentFingerprint.Compute(content, sketch, hashes, out bool hasBands);
        return hasBands
            ? [.. Enumerable.Range(0, sketch.Bands).Select(b => NearDuplicateSketch.Partition(b, hashes.AsSpan(b * NearDuplicateSketch.BandHashBytes, NearDuplicateSketch.BandHashBytes)))]
            : [];
    }

    /// <summary>Pairs of mails that share at least one band key, and how many mails are in any such pair.</summary>
    public static (int Pairs, int Mails) Collisions(NearDuplicateSketch sketch, IReadOnlyList<EmailContent> mails)
    {
        Dictionary<string, List<int>> byKey = new(StringComparer.Ordinal);
        for (int i = 0; i < mails.Count; i++)
        {
            foreach (string key in BandKeys(sketch, mails[i]))
            {
                (byKey.TryGetValue(key, out List<int>? list) ? list : byKey[key] = []).Add(i);
            }
        }

        HashSet<(int, int)> pairs = [];
        foreach (List<int> group in byKey.Values)
        {
            for (int a = 0; a < group.Count; a++)
            {
                for (int b = a + 1; b < group.Count; b++)
                {
                    pairs.Add((group[a], group[b]));
                }
            }
        }

        return (pairs.Count, pairs.SelectMany(p => new[] { p.Item1, p.Item2 }).Distinct().Count());
    }

    /// <summary>
    /// Of <paramref name="copies"/> rewrites of each phishing text, how many share a band key with the original, and
    /// the most copies any one band key of a text counted (what a content counter sees), summed over the texts.
    /// </summary>
    public static (int Caught, int Largest, int Total) Recall(NearDuplicateSketch sketch, RewriteKind kind, int copies, int seed = 5)
    {
        int caught = 0, largest = 0, total = 0;
        foreach (string text in AttackerRewrites.PhishingTexts)
        {
            Random random = new(seed);
            HashSet<string> original = [.. BandKeys(sketch, new EmailContent { Subject = "Action required", TextBody = text })];
            Dictionary<string, int> counts = new(StringComparer.Ordinal);
            for (int i = 0; i < copies; i++)
            {
                string[] keys = BandKeys(sketch, new EmailContent { Subject = "Action required", TextBody = AttackerRewrites.Rewrite(text, kind, random) });
                caught += keys.Any(original.Contains) ? 1 : 0;
                foreach (string key in keys)
                {
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                }
            }

            largest += counts.Count == 0 ? 0 : counts.Values.Max();
            total += copies;
        }

        return (caught, largest, total);
    }
}
