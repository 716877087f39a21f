namespace EmailGuard.Tests.Configuration;

/// <summary>
/// The "did you mean" suggestion (<see cref="StrictConfiguration.Nearest"/>) for a misspelt setting and for a path rule
/// no endpoint serves. It used to compute the full edit distance to every candidate, 1.3 s of startup for an app with
/// 30,000 endpoints and 25 such rules; it now computes each distance only as far as could change the answer. The answer
/// must be the one the full computation gave, ties included: this compares the two on many generated cases.
/// </summary>
public sealed class NearestNameTests
{
    // Letters in both cases, separators, and letters whose upper case is another letter (ı, ſ) or the letter itself (ß).
    private const string Alphabet = "aAbBcC/-_ßıſ";

    [Fact]
    public void Nearest_GeneratedKeysAndCandidates_SameAsTheFullEditDistance()
    {
        // Arrange: short names over a small alphabet, so that near misses, equal distances and duplicates abound.
        var random = new Random(118);
        int cases = 0;
        int suggested = 0;

        // Act, Assert
        for (; cases < 20_000; cases++)
        {
            string key = Word(random, random.Next(0, 14));
            List<string> known = [.. Enumerable.Range(0, random.Next(0, 12)).Select(_ => random.Next(3) == 0 ? Misspelt(random, key) : Word(random, random.Next(0, 16)))];

            string? expected = FullNearest(key, known);
            StrictConfiguration.Nearest(key, known).Should().Be(expected, "for '{0}' among [{1}]", key, string.Join(", ", known));
            suggested += expected is null ? 0 : 1;
        }

        suggested.Should().BeGreaterThan(cases / 4, "the cases must exercise suggestions, not only their absence");
    }

    [Theory]
    [InlineData("/api/singup", "/api/signup")]
    [InlineData("/API/SIGNUP/", "/api/signup")]
    [InlineData("/api/password/rest", "/api/password/reset")]
    [InlineData("/aliased/regsiter", "/aliased/register")]
    [InlineData("/api/statsu", "/api/status")]
    [InlineData("/nothing/like/it", null)]
    public void Nearest_AmongManyServedPaths_TheNearestOrNone(string key, string? expected)
    {
        // Arrange: an app with thousands of routes, the one meant among them.
        List<string> known = [.. Enumerable.Range(0, 5_000).Select(i => $"/api/module{i / 100}/resource{i}/items")];
        known.InsertRange(2_500, ["/api/signup", "/api/password/reset", "/aliased/register", "/api/status", "/api/signup"]);

        // Act
        string? nearest = StrictConfiguration.Nearest(key, known);

        // Assert
        nearest.Should().Be(expected).And.Be(FullNearest(key, known));
    }

    [Fact]
    public void Nearest_TwoNamesEquallyNear_TheFirst()
    {
        StrictConfiguration.Nearest("Limt", ["Limits", "Limit", "Lint"]).Should().Be("Limit");
        StrictConfiguration.Nearest("Limt", ["Lint", "Limit"]).Should().Be("Lint");
    }

    private static string Word(Random random, int length) => string.Concat(Enumerable.Range(0, length).Select(_ => Alphabet[random.Next(Alphabet.Length)]));

    /// <summary><paramref name="word"/> with a few characters changed, added or removed, in either case.</summary>
    private static string Misspelt(Random random, string word)
    {
        var chars = new List<char>(word);
        for (int edits = random.Next(0, 5); edits > 0; edits--)
        {
            int at = random.Next(chars.Count + 1);
            switch (random.Next(4))
            {
                case 0 when at < chars.Count:
                    chars.RemoveAt(at);
                    break;
                case 1 when at < chars.Count:
                    chars[at] = Alphabet[random.Next(Alphabet.Length)];
                    break;
                case 2 when at < chars.Count:
                    chars[at] = char.IsUpper(chars[at]) ? char.ToLowerInvariant(chars[at]) : char.ToUpperInvariant(chars[at]);
                    break;
                default:
                    chars.Insert(at, Alphabet[random.Next(Alphabet.Length)]);
                    break;
            }
        }

        return new string([.. chars]);
    }

    /// <summary>The suggestion as it was computed before the bound: the full edit distance to every candidate.</summary>
    private static string? FullNearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        string? completed = null;
        int completions = 0;
        foreach (string candidate in known)
        {
            int distance = FullEditDistance(key, candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }

            if (key.Length >= 4 && candidate.StartsWith(key, StringComparison.OrdinalIgnoreCase))
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

    private static int FullEditDistance(string a, string b)
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
