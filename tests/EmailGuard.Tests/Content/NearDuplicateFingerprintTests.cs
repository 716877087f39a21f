using EmailGuard.Testing.Content;
using Xunit.Abstractions;

namespace EmailGuard.Tests.Content;

/// <summary>
/// The near-duplicate fingerprint measured on the corpus with the default settings (4 bands of 5 rows over word pairs):
/// how many genuinely different mails share a band key, with and without a shared footer, and how many attacker
/// rewrites still share one with the original. The figures are deterministic (seeded); the bounds sit just under or
/// over them, so the test fails when the sketch stops catching rewrites or starts joining different mails.
/// </summary>
public sealed class NearDuplicateFingerprintTests(ITestOutputHelper output)
{
    private static readonly NearDuplicateSketch s_default = new(new NearDuplicateContentOptions());

    [Fact]
    public void Corpus_400GenuinelyDifferentMails_AlmostNoneShareABandKey()
    {
        (int pairs, int mails) = NearDuplicateMeasurement.Collisions(s_default, NearDuplicateCorpus.Distinct(400));

        output.WriteLine($"400 different mails: {pairs} of 79800 pairs share a band key ({mails} mails).");
        pairs.Should().BeLessThanOrEqualTo(8, "6 pairs measured: mails that share one of their sentences, by chance in one band");
    }

    [Fact]
    public void Corpus_DifferentMailsUnderOneLongSignatureAndLegalFooter_CollideNoMoreThanWithout()
    {
        (int pairs, int mails) = NearDuplicateMeasurement.Collisions(s_default, NearDuplicateCorpus.Distinct(400, footer: NearDuplicateCorpus.KnownFooter));
        (int shortPairs, int shortMails) = NearDuplicateMeasurement.Collisions(s_default, NearDuplicateCorpus.Distinct(200, seed: 5, footer: NearDuplicateCorpus.KnownFooter, minSentences: 2, maxSentences: 2));

        output.WriteLine($"400 different mails under an 80-word signature and confidentiality notice: {pairs} pairs ({mails} mails).");
        output.WriteLine($"200 two-sentence mails under the same footer: {shortPairs} of 19900 pairs ({shortMails} mails).");
        pairs.Should().BeLessThanOrEqualTo(8, "the footer is cut at its closing phrase, so the figure is the footerless one (6)");
        shortPairs.Should().BeLessThanOrEqualTo(7, "5 measured, the same as without the footer");
    }

    [Fact]
    public void Corpus_AFooterWithoutAKnownClosingPhrase_CollidesUntilTheAppNamesIt()
    {
        List<EmailContent> mails = NearDuplicateCorpus.Distinct(400, footer: NearDuplicateCorpus.UnknownFooter);
        List<EmailContent> shortMails = NearDuplicateCorpus.Distinct(200, seed: 5, footer: NearDuplicateCorpus.UnknownFooter, minSentences: 2, maxSentences: 2);
        NearDuplicateSketch configured = new(new NearDuplicateContentOptions { FooterMarkers = [NearDuplicateCorpus.UnknownFooterMarker] });

        (int unnamed, int unnamedMails) = NearDuplicateMeasurement.Collisions(s_default, mails);
        (int named, _) = NearDuplicateMeasurement.Collisions(configured, mails);
        (int shortNamed, _) = NearDuplicateMeasurement.Collisions(configured, shortMails);

        output.WriteLine($"400 different mails under a 70-word company block no built-in phrase opens: {unnamed} pairs ({unnamedMails} mails); with the block's first line in FooterMarkers: {named}; 200 two-sentence mails: {shortNamed}.");
        unnamed.Should().BeGreaterThan(1000, "the limit docs/content.md states: an unrecognized long footer dominates the shingles");
        named.Should().BeLessThanOrEqualTo(6, "4 measured");
        shortNamed.Should().BeLessThanOrEqualTo(11, "9 measured");
    }

    [Theory]
    [InlineData(RewriteKind.Synonyms, 175)]
    [InlineData(RewriteKind.ReorderedSentences, 195)]
    [InlineData(RewriteKind.InsertedSentence, 190)]
    [InlineData(RewriteKind.WordsChanged, 172)]
    [InlineData(RewriteKind.Homoglyphs, 200)]
    [InlineData(RewriteKind.Combined, 90)]
    public void Rewrites_OfFivePhishingTexts_ShareABandKeyWithTheOriginal(RewriteKind kind, int atLeast)
    {
        (int caught, int largest, int total) = NearDuplicateMeasurement.Recall(s_default, kind, 40);
        int exact = 0;
        foreach (string text in AttackerRewrites.PhishingTexts)
        {
            Random random = new(5);
            string original = ContentFingerprint.Compute(new EmailContent { Subject = "Action required", TextBody = text });
            for (int i = 0; i < 40; i++)
            {
                exact += ContentFingerprint.Compute(new EmailContent { Subject = "Action required", TextBody = AttackerRewrites.Rewrite(text, kind, random) }) == original ? 1 : 0;
            }
        }

        output.WriteLine($"{kind}: {caught} of {total} copies share a band key with the original; the fullest band counted {largest} copies (summed over 5 texts); the exact fingerprint matched {exact}.");
        caught.Should().BeGreaterThanOrEqualTo(atLeast);
        exact.Should().Be(0, "every rewrite is a new exact fingerprint: that is what the near-duplicate key is for");
    }

    [Fact]
    public void Template_FilledPerRecipient_HasOneSetOfBandKeys()
    {
        HashSet<string> keys = [];
        for (int i = 0; i < 50; i++)
        {
            keys.UnionWith(NearDuplicateMeasurement.BandKeys(s_default, BusinessMailCorpus.PurchaseOrder(BusinessMailCorpus.FirstNames[i % 16], BusinessMailCorpus.LastNames[i % 10], 40_000 + (i * 7919))));
        }

        keys.Should().HaveCount(4).And.OnlyContain(k => k.Length == 26 && k.StartsWith("nd", StringComparison.Ordinal), "a band key is its band and a 128-bit hash, never the text");
        keys.Select(k => k[..4]).Should().BeEquivalentTo(["nd0:", "nd1:", "nd2:", "nd3:"]);
    }

    [Fact]
    public void ShortText_GetsNoBandKey_OnlyItsExactFingerprint()
    {
        string[] keys = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { Subject = "Quick question", TextBody = "Can you send me the slides from yesterday? Thanks!" });

        keys.Should().BeEmpty("texts under MinWords (20) words are too short to tell a near duplicate from a coincidence");
    }

    [Fact]
    public void Attacker_ClosingPhraseAtTheTop_DoesNotHideTheText()
    {
        string[] original = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = AttackerRewrites.PurchaseOrderNote });
        string[] hidden = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = "Kind regards,\nThis email and any attachments are confidential.\n" + AttackerRewrites.PurchaseOrderNote });

        hidden.Should().NotBeEmpty().And.IntersectWith(original, "a closing phrase only counts after MinWords words");
    }

    [Fact]
    public void Attacker_LongTextAfterAClosingPhrase_IsShingled()
    {
        string payload = string.Join(' ', AttackerRewrites.PhishingTexts); // about 330 different words
        string prefix = "Thanks for the quick reply about the delivery schedule and the revised quantities for the spring order, we appreciate it.";

        string[] withPrefix = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = prefix + " Kind regards. " + payload });
        string[] plain = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = payload });

        withPrefix.Should().IntersectWith(plain, "a footer is at most 200 words; a longer tail is the message");
    }

    [Fact]
    public void Attacker_ShortTextAfterAClosingPhraseBehindAVaryingPrefix_EscapesTheNearDuplicateKey()
    {
        // The documented limit: an attacker who writes a different opening of 20+ words per copy and puts his text
        // after "Kind regards", within the last 200 words, gets band keys of the opening only.
        string[] a = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = "Thanks for the quick reply about the delivery schedule and the revised quantities for the spring order, we appreciate it a lot. Kind regards. " + AttackerRewrites.PurchaseOrderNote });
        string[] b = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = "Good to hear that the new office is open and that the team settled in well after the move last month, all the best to everyone. Kind regards. " + AttackerRewrites.PurchaseOrderNote });

        a.Should().NotIntersectWith(b);
    }

    [Fact]
    public void Attacker_UnclosedTagInAPlainTextBody_DoesNotHideTheTextAfterIt()
    {
        // A plain-text body is not markup: a mail client shows "<x" and all that follows it. Read as HTML, the "tag" ran
        // to the end of the body, so each copy was fingerprinted by its few varying words alone (too few for band keys,
        // a new exact fingerprint per copy) while the recipients read the same phishing text.
        string[] a = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = "Quick update for you <x " + AttackerRewrites.PurchaseOrderNote });
        string[] b = NearDuplicateMeasurement.BandKeys(s_default, new EmailContent { TextBody = "Another note today <q " + AttackerRewrites.PurchaseOrderNote });

        a.Should().NotBeEmpty().And.IntersectWith(b);
        ContentFingerprint.Normalize(new EmailContent { Subject = "Re: <b>offer", TextBody = "Pay <now at http://pay.example/x" })
            .Should().Be("re b offer pay now at http pay example x");
    }

    [Fact]
    public void EveryBuiltInClosingPhrase_CutsTheFooterItOpens()
    {
        string body = "We reviewed the quarterly figures with the regional managers and agreed to move the product launch to the first week of the next quarter.";
        List<string> missed = [];
        foreach (string phrase in ContentBoilerplate.BuiltInPhrases)
        {
            string mail = $"{body}\n\n{char.ToUpperInvariant(phrase[0])}{phrase[1..]}: footer text of the sender, 12 Main Street, Springfield.";
            ulong[] words = NearDuplicateSketch.HashWords(ContentFingerprint.Normalize(new EmailContent { TextBody = mail }));
            if (ContentBoilerplate.BodyEnd(words, 20, NearDuplicateSketch.MaxFooterWords, []) != 24)
            {
                missed.Add(phrase);
            }
        }

        missed.Should().BeEmpty("each phrase must match the text as the normalizer writes it");
    }

    [Fact]
    public void VectorizedAndScalarMinHash_GiveTheSameBandKeys()
    {
        NearDuplicateSketch vectors = new(6, 5, 20) { UseVectors = true };
        NearDuplicateSketch scalar = new(6, 5, 20) { UseVectors = false };
        List<EmailContent> mails = [.. NearDuplicateCorpus.Distinct(50), new EmailContent { HtmlBody = ContentFingerprintTests.LargeBody(50 * 1024) }];

        foreach (EmailContent mail in mails)
        {
            NearDuplicateMeasurement.BandKeys(vectors, mail).Should().Equal(NearDuplicateMeasurement.BandKeys(scalar, mail));
        }
    }

    [Fact]
    public void BandKeys_OfA50KBody_AllocateNothingBeyondTheFingerprint()
    {
        EmailContent content = new() { Subject = "Quarterly report", HtmlBody = ContentFingerprintTests.LargeBody(50 * 1024) };
        byte[] hashes = new byte[s_default.Bands * NearDuplicateSketch.BandHashBytes];
        ContentFingerprint.Compute(content, s_default, hashes, out _);

        long perCall = Allocations.LeastOf(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                ContentFingerprint.Compute(content, s_default, hashes, out _);
            }
        }) / 10;
        output.WriteLine($"{perCall} bytes allocated per fingerprint and band hashes of a 50 KB body.");
        perCall.Should().BeLessThan(256, "word hashes go to a pooled buffer, the MinHash values to the stack");
    }
}
