using System.Numerics;
using EmailGuard.Testing.Content;
using Xunit.Abstractions;

namespace EmailGuard.Tests.Content;

/// <summary>
/// Why the near-duplicate fingerprint is MinHash over word pairs: on the same corpus, word triples and SimHash
/// (64 bits, permuted-block keys of 16 bits) catch fewer rewrites, and SimHash joins more different mails. Keeps the
/// comparison in docs/content.md reproducible.
/// </summary>
public sealed class NearDuplicateAlternativesTests(ITestOutputHelper output)
{
    [Fact]
    public void MinHashOverWordPairs_CatchesMoreRewritesThanTriplesOrSimHash_AtNoMoreCollisionsThanSimHash()
    {
        List<EmailContent> mails = NearDuplicateCorpus.Distinct(400);
        NearDuplicateSketch pairs = new(new NearDuplicateContentOptions());
        NearDuplicateSketch triples = new(4, 5, 20, shingleWords: 3);

        int pairsCollisions = NearDuplicateMeasurement.Collisions(pairs, mails).Pairs;
        int triplesCollisions = NearDuplicateMeasurement.Collisions(triples, mails).Pairs;
        int simHashCollisions = SimHashCollisions(mails);
        int pairsCaught = 0, triplesCaught = 0, simHashCaught = 0;
        foreach (RewriteKind kind in new[] { RewriteKind.Synonyms, RewriteKind.InsertedSentence, RewriteKind.WordsChanged, RewriteKind.Combined })
        {
            pairsCaught += NearDuplicateMeasurement.Recall(pairs, kind, 40).Caught;
            triplesCaught += NearDuplicateMeasurement.Recall(triples, kind, 40).Caught;
            simHashCaught += SimHashRecall(kind);
        }

        output.WriteLine($"Of 800 rewrites (synonyms, inserted sentence, words changed, all at once), and colliding pairs of 400 different mails: "
            + $"MinHash pairs {pairsCaught}, {pairsCollisions}; MinHash triples {triplesCaught}, {triplesCollisions}; SimHash pairs {simHashCaught}, {simHashCollisions}.");
        pairsCaught.Should().BeGreaterThan(triplesCaught + 100);
        pairsCaught.Should().BeGreaterThan(simHashCaught + 200);
        pairsCollisions.Should().BeLessThan(simHashCollisions);
    }

    private static int SimHashCollisions(List<EmailContent> mails)
    {
        ulong[] hashes = [.. mails.Select(SimHash)];
        int pairs = 0;
        for (int a = 0; a < hashes.Length; a++)
        {
            for (int b = a + 1; b < hashes.Length; b++)
            {
                pairs += ShareABlock(hashes[a], hashes[b]) ? 1 : 0;
            }
        }

        return pairs;
    }

    private static int SimHashRecall(RewriteKind kind)
    {
        int caught = 0;
        foreach (string text in AttackerRewrites.PhishingTexts)
        {
            Random random = new(5);
            ulong original = SimHash(new EmailContent { Subject = "Action required", TextBody = text });
            for (int i = 0; i < 40; i++)
            {
                caught += ShareABlock(original, SimHash(new EmailContent { Subject = "Action required", TextBody = AttackerRewrites.Rewrite(text, kind, random) })) ? 1 : 0;
            }
        }

        return caught;
    }

    // Permuted-block keys: one key per 16-bit block, so hashes within 3 bits of each other always share one.
    private static bool ShareABlock(ulong a, ulong b)
    {
        for (int block = 0; block < 4; block++)
        {
            if (((a ^ b) >> (block * 16) & 0xFFFF) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static ulong SimHash(EmailContent content)
    {
        ulong[] words = NearDuplicateSketch.HashWords(ContentFingerprint.Normalize(content));
        Span<int> votes = stackalloc int[64];
        for (int i = 0; i + 1 < words.Length; i++)
        {
            ulong shingle = Mix(words[i] ^ BitOperations.RotateLeft(words[i + 1], 21));
            for (int bit = 0; bit < 64; bit++)
            {
                votes[bit] += ((shingle >> bit) & 1) == 1 ? 1 : -1;
            }
        }

        ulong result = 0;
        for (int bit = 0; bit < 64; bit++)
        {
            result |= votes[bit] > 0 ? 1UL << bit : 0;
        }

        return result;
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= x >> 33;
        return x;
    }
}
