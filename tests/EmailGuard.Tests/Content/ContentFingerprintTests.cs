using EmailGuard.Testing.Content;
using Xunit.Abstractions;

namespace EmailGuard.Tests.Content;

public sealed class ContentFingerprintTests(ITestOutputHelper output)
{
    [Fact]
    public void Template_FilledWithDifferentNamesAndOrderNumbers_SharesOneFingerprint()
    {
        HashSet<string> fingerprints = [];
        for (int i = 0; i < 200; i++)
        {
            EmailContent filled = BusinessMailCorpus.PurchaseOrder(
                BusinessMailCorpus.FirstNames[i % BusinessMailCorpus.FirstNames.Length], BusinessMailCorpus.LastNames[i % BusinessMailCorpus.LastNames.Length], 40_000 + (i * 7919));
            fingerprints.Add(ContentFingerprint.Compute(filled));
        }

        fingerprints.Should().ContainSingle();
    }

    [Fact]
    public void Corpus_GenuinelyDifferentBusinessMails_HaveNoFalsePositive()
    {
        List<(string Template, EmailContent Content)> corpus = BusinessMailCorpus.Distinct(400);
        Dictionary<string, string> templateByFingerprint = new(StringComparer.Ordinal);
        List<string> falsePositives = [];

        foreach ((string template, EmailContent content) in corpus)
        {
            string fingerprint = ContentFingerprint.Compute(content);
            if (!templateByFingerprint.TryAdd(fingerprint, template))
            {
                falsePositives.Add($"{template} collides with {templateByFingerprint[fingerprint]}: \"{ContentFingerprint.Normalize(content)}\"");
            }
        }

        output.WriteLine($"{corpus.Count} distinct messages, {templateByFingerprint.Count} fingerprints, {falsePositives.Count} false positives (exact fingerprint).");
        foreach (string falsePositive in falsePositives)
        {
            output.WriteLine(falsePositive);
        }

        falsePositives.Should().BeEmpty();
    }

    [Fact]
    public void Corpus_SameTemplateFilledAgain_MatchesItself()
    {
        List<(string Template, EmailContent Content)> first = BusinessMailCorpus.Distinct(400, seed: 17);
        Dictionary<string, string> fingerprintByTemplate = first.ToDictionary(m => m.Template, m => ContentFingerprint.Compute(m.Content), StringComparer.Ordinal);

        // The same templates filled in again with other names, numbers, dates and greetings.
        int shared = 0;
        List<string> misses = [];
        foreach ((string template, EmailContent content) in BusinessMailCorpus.Distinct(400, seed: 17, fillSeed: 99))
        {
            if (fingerprintByTemplate.TryGetValue(template, out string? expected))
            {
                shared++;
                if (ContentFingerprint.Compute(content) != expected)
                {
                    misses.Add($"{template}: \"{ContentFingerprint.Normalize(content)}\"");
                }
            }
        }

        output.WriteLine($"{shared} templates filled twice, {misses.Count} did not match themselves.");
        misses.ForEach(output.WriteLine);
        shared.Should().Be(400);
        misses.Should().BeEmpty();
    }

    [Theory]
    [InlineData("case", "PURCHASE ORDER PO-1", "DEAR ANNA SMITH,\n\nPLEASE FIND PURCHASE ORDER 17 ATTACHED.")]
    [InlineData("whitespace", "Purchase   order\tPO-1", "  Dear Anna Smith,\r\n\r\n\r\nPlease   find\npurchase order 17\t\tattached.  ")]
    [InlineData("numbers", "Purchase order PO-998877", "Dear Anna Smith,\n\nPlease find purchase order 4 711-0815 attached.")]
    [InlineData("greeting", "Purchase order PO-1", "Hi Bob,\n\nPlease find purchase order 17 attached.")]
    [InlineData("greeting with title", "Purchase order PO-1", "Dear Mr. John Smith:\nPlease find purchase order 17 attached.")]
    [InlineData("no name", "Purchase order PO-1", "Hello,\nPlease find purchase order 17 attached.")]
    [InlineData("good morning", "Purchase order PO-1", "Good morning Anna!\nPlease find purchase order 17 attached.")]
    [InlineData("no greeting", "Purchase order PO-1", "Please find purchase order 17 attached.")]
    [InlineData("punctuation", "Purchase order: PO-1!", "Dear Anna Smith, -- Please find ... purchase order #17 attached!!!")]
    [InlineData("html wrapper", "Purchase order PO-1", "<html><head><style>p{color:red}</style></head><body><div><p>Dear <b>Anna</b> Smith,</p><p>Please <span>find</span> purchase order 17 attached.</p></div></body></html>")]
    [InlineData("entities", "Purchase&nbsp;order PO-1", "Dear Anna Smith,<br>&#80;lease find purchase&#x20;order 17 attached&period;")]
    [InlineData("references browsers decode: zero-padded, without semicolon", "Purchase order PO-1", "Dear Anna Smith,<br>&#x0000000050;lease find p&#117rchase order 17 att&#000000000097;ched.")]
    [InlineData("zero-width characters", "Pur\u200Bchase order PO-1", "Dear Anna Smith,\nPle\u00ADase fi\u200Dnd purchase order 17 att\uFEFFached.")]
    [InlineData("split by inline tags", "Purchase order PO-1", "<p>Dear Anna Smith,</p><p>P<span></span>lease find pur<b></b>chase order 17 attached.</p>")]
    [InlineData("comments and scripts", "Purchase order PO-1", "<!-- unique 8f3a -->Dear Anna Smith,<script>var x='random text';</script>\nPlease find purchase order 17 attached.")]
    [InlineData("invisible named references", "Purchase order PO-1", "<p>Dear Anna Smith,</p><p>Ple&ZeroWidthSpace;ase fi&NoBreak;nd pur&NegativeThinSpace;chase order 17 att&InvisibleTimes;ached.</p>")]
    [InlineData("text hidden in a quoted attribute value", "Purchase order PO-1", "<p title=\"x>unique 8f3a words\">Dear Anna Smith,</p><p class='a>more words'>Please find purchase order 17 attached.</p>")]
    [InlineData("bogus comments and --!> inside words", "Purchase order PO-1", "<!DOCTYPE html><p>Dear Anna Smith,</p><p>Ple<!x>ase fi<?y z?>nd pur<![CDATA[q]]>chase order 17 att<!-- unique 8f3a --!>ached.</p>")]
    [InlineData("hidden elements", "Purchase order PO-1", "<html><head><title>Order 8f3a for supplier Lindqvist</title></head><body><template><p>unique words</p></template><p>Dear Anna Smith,</p><p>Please find purchase order 17 attached.<svg><title>random tooltip</title></svg></p></body></html>")]
    [InlineData("accented letters as named references", "Purchase order PO-1", "<p>Dear Anna Smith,</p><p>Pl&eacute;ase f&iacute;nd purch&aacute;se order 17 attached.</p>")]
    [InlineData("empty noscript elements inside words", "Purchase order PO-1", "<p>Dear Anna Smith,</p><p>Ple<noscript></noscript>ase fi<NOSCRIPT></NOSCRIPT>nd purchase order 17 attached.</p>")]
    public void AttackerVariation_OfOneText_DoesNotEscapeTheFingerprint(string variation, string subject, string body)
    {
        EmailContent original = new() { Subject = "Purchase order PO-1", TextBody = "Dear Anna Smith,\n\nPlease find purchase order 17 attached." };
        EmailContent varied = body.Contains('<', StringComparison.Ordinal) ? new() { Subject = subject, HtmlBody = body } : new() { Subject = subject, TextBody = body };

        ContentFingerprint.Compute(varied).Should().Be(ContentFingerprint.Compute(original), $"{variation} must not make a new fingerprint; normalized: \"{ContentFingerprint.Normalize(varied)}\"");
    }

    [Theory]
    [InlineData("decomposed (NFD) accents")]
    [InlineData("Hangul fillers inside words")]
    [InlineData("Unicode tag characters inside words")]
    [InlineData("tag characters as entities")]
    [InlineData("mathematical bold letters")]
    public void AttackerVariation_InvisibleOrEquivalentCharacters_DoNotEscapeEitherFingerprint(string variation)
    {
        // Each variation renders like the original (or invisibly differs from it), so an attacker can vary it per copy.
        static string Bold(string word) => string.Concat(word.Select(c => char.ConvertFromUtf32(0x1D41A + c - 'a')));
        string original = "Dvořák, Şahin and Nováček: " + AttackerRewrites.PurchaseOrderNote;
        string varied = variation switch
        {
            "decomposed (NFD) accents" => original.Normalize(System.Text.NormalizationForm.FormD),
            "Hangul fillers inside words" => original.Replace("account", "acc\u3164ount", StringComparison.Ordinal)
                .Replace("verify", "ver\u115Fify", StringComparison.Ordinal).Replace("bank", "ba\uFFA0nk", StringComparison.Ordinal),
            "Unicode tag characters inside words" => original.Replace("account", "acc\U000E0041ount", StringComparison.Ordinal)
                .Replace("verify", "ver\U000E007Fify", StringComparison.Ordinal),
            "tag characters as entities" => original.Replace("account", "acc&#xE0041;ount", StringComparison.Ordinal),
            _ => original.Replace("verify", Bold("verify"), StringComparison.Ordinal).Replace("payments", Bold("payments"), StringComparison.Ordinal),
        };
        EmailContent plain = new() { Subject = "Bank details", TextBody = original };
        EmailContent copy = variation.Contains("entities", StringComparison.Ordinal)
            ? new() { Subject = "Bank details", HtmlBody = varied }
            : new() { Subject = "Bank details", TextBody = varied };
        NearDuplicateSketch sketch = new(new NearDuplicateContentOptions());

        ContentFingerprint.Compute(copy).Should().Be(ContentFingerprint.Compute(plain), $"{variation} must not make a new fingerprint; normalized: \"{ContentFingerprint.Normalize(copy)}\"");
        NearDuplicateMeasurement.BandKeys(sketch, copy).Should().NotBeEmpty().And.Equal(NearDuplicateMeasurement.BandKeys(sketch, plain));
    }

    [Theory]
    [InlineData("ligatures")]
    [InlineData("Kelvin and Angstrom signs")]
    [InlineData("long s")]
    [InlineData("dotless i and dotted capital I")]
    [InlineData("full-width letters")]
    [InlineData("circled and squared letters")]
    [InlineData("modifier letters")]
    [InlineData("control characters inside words")]
    [InlineData("private-use characters inside words")]
    public void AttackerVariation_CompatibilityAndControlCharacters_DoNotEscapeEitherFingerprint(string variation)
    {
        // Each variation renders like the original, or like it with an invisible character or a box inside a word.
        string original = "Ångström, Kowalski and Işık: " + AttackerRewrites.PurchaseOrderNote;
        string varied = variation switch
        {
            "ligatures" => original.Replace("fi", "\uFB01", StringComparison.Ordinal).Replace("ff", "\uFB00", StringComparison.Ordinal),
            "Kelvin and Angstrom signs" => original.Replace('K', '\u212A').Replace('Å', '\u212B'),
            "long s" => original.Replace("suspension", "\u017Fu\u017Fpen\u017Fion", StringComparison.Ordinal).Replace("details", "detail\u017F", StringComparison.Ordinal),
            "dotless i and dotted capital I" => original.Replace("verify", "ver\u0131fy", StringComparison.Ordinal)
                .Replace("invoices", "\u0131nvo\u0131ces", StringComparison.Ordinal).Replace("Important", "\u0130mportant", StringComparison.Ordinal),
            "full-width letters" => original.Replace("verify", "\uFF56\uFF45\uFF52\uFF49\uFF46\uFF59", StringComparison.Ordinal)
                .Replace("Orders", "\uFF2F\uFF52\uFF44\uFF45\uFF52\uFF53", StringComparison.Ordinal),
            "circled and squared letters" => original.Replace("bank", "\u24D1\u24D0\u24DD\u24DA", StringComparison.Ordinal)
                .Replace("Due", "\U0001F133\U0001F144\U0001F134", StringComparison.Ordinal),
            "modifier letters" => original.Replace("audit", "\u1D43\u1D58\u1D48\u2071\u1D57", StringComparison.Ordinal),
            "control characters inside words" => original.Replace("account", "acc\u0001ount", StringComparison.Ordinal)
                .Replace("verify", "ver\u007Fify", StringComparison.Ordinal).Replace("bank", "ba\u0085nk", StringComparison.Ordinal)
                .Replace("payments", "pay\u009Bments", StringComparison.Ordinal).Replace("notice", "no\u001Ftice", StringComparison.Ordinal),
            _ => original.Replace("account", "acc\uE000ount", StringComparison.Ordinal).Replace("verify", "ver\U000F0001ify", StringComparison.Ordinal)
                .Replace("bank", "ba\uF8FFnk", StringComparison.Ordinal),
        };
        varied.Should().NotBe(original);
        EmailContent plain = new() { Subject = "Bank details", TextBody = original };
        EmailContent copy = new() { Subject = "Bank details", TextBody = varied };
        NearDuplicateSketch sketch = new(new NearDuplicateContentOptions());

        ContentFingerprint.Compute(copy).Should().Be(ContentFingerprint.Compute(plain), $"{variation} must not make a new fingerprint; normalized: \"{ContentFingerprint.Normalize(copy)}\"");
        NearDuplicateMeasurement.BandKeys(sketch, copy).Should().NotBeEmpty().And.Equal(NearDuplicateMeasurement.BandKeys(sketch, plain));
    }

    [Fact]
    public void Normalize_FoldsCompatibilityCharacters_AndKeepsSymbolsAsSeparators()
    {
        EmailContent content = new() { TextBody = "o\uFB03ce \uFB01le Ｐａｙ ſend \u0131t \u212Aey \u212Bsa \u24D0\u24D1 Acme\u2122 pay&#150;now" };

        ContentFingerprint.Normalize(content).Should().Be("office file pay send it key asa ab acme pay now");
    }

    [Fact]
    public void Normalize_HtmlReferencesToC1Controls_ReadAsTheWindows1252CharactersBrowsersShow()
    {
        EmailContent content = new() { HtmlBody = "<p>pay&#150;now &#138;koda &#x9A;ip ok&#x85;done</p>" };

        ContentFingerprint.Normalize(content).Should().Be("pay now skoda sip ok done");
    }

    [Fact]
    public void TextArea_IsReadAsThePlainTextReadersSee_AndHidesNothingAfterIt()
    {
        // A browser shows a textarea's content as written, markup and all, up to </textarea>. Read as markup, a "<!--"
        // or "<script>" in it hid every word after the box: the text copies share, leaving only what each copy adds.
        EmailContent content = new() { HtmlBody = "<p>Order status</p><textarea rows=2>Pay <b>now</b> &amp; <!-- or <script> later</TEXTAREA><p>Your invoice is attached.</p>" };

        ContentFingerprint.Normalize(content).Should().Be("order status pay b now b or script later your invoice is attached");
    }

    [Fact]
    public void Fingerprint_OfPartsThatFoldLonger_StaysWithinItsBuffer()
    {
        // U+FB03 folds to three letters and U+FDFA to 18 characters: a part of them reads as long as the part is.
        string ligatures = new('\uFB03', ContentFingerprint.MaxPartChars);
        EmailContent content = new() { Subject = new string('\uFDFA', 1000), TextBody = ligatures };

        string normalized = ContentFingerprint.Normalize(content);

        normalized.Length.Should().BeLessThanOrEqualTo(1000 + ContentFingerprint.MaxPartChars + 2);
        normalized.Contains(" ffiffi", StringComparison.Ordinal).Should().BeTrue("the subject's folds must not crowd out the body");
        ContentFingerprint.Compute(content).Should().HaveLength(ContentFingerprint.Length);
    }

    [Fact]
    public void AttackerVariation_TrackingQueryStringsAndFragments_DoNotEscapeTheFingerprint()
    {
        HashSet<string> fingerprints = [];
        for (int i = 0; i < 50; i++)
        {
            string token = Convert.ToHexString(BitConverter.GetBytes(i * 2654435761L));
            fingerprints.Add(ContentFingerprint.Compute(BusinessMailCorpus.PurchaseOrder("Anna", "Smith", 1, tracking: token + "&utm_campaign=x" + token + "#" + token)));
        }

        fingerprints.Should().ContainSingle();
    }

    [Fact]
    public void HtmlAndTextVersionsOfOneTemplate_ShareOneFingerprint()
    {
        string text = ContentFingerprint.Compute(BusinessMailCorpus.PurchaseOrder("Anna", "Smith", 4711));
        string html = ContentFingerprint.Compute(BusinessMailCorpus.PurchaseOrder("Jonas", "Müller", 815, html: true));

        html.Should().Be(text);
    }

    [Theory]
    [InlineData("Please find purchase order 17 attached.", "Please find purchase order 17 attached and pay now.")]
    [InlineData("Your invoice is attached.", "Your invoice is not attached.")]
    [InlineData("Confirm at https://orders.example.com/po", "Confirm at https://0rders-example.evil/po")]
    [InlineData("Tom & Jerry; pay now", "Tom & Kate; pay now")]
    [InlineData("Total a&sdot;b due", "Total asb due")]
    [InlineData("Hi Anna, your account is locked and will be deleted", "Hi Anna, your account is ready")]
    [InlineData("\uFB01le the report", "\uFB02ee the report")]
    [InlineData("Ｐａｙ now", "Ｐｌａｙ now")]
    [InlineData("\u24D0\u24D1 order", "\u24D0\u24D2 order")]
    [InlineData("ſend the order", "spend the order")]
    [InlineData("kır the order", "kar the order")]
    public void DifferentTexts_HaveDifferentFingerprints(string a, string b)
        => ContentFingerprint.Compute(new EmailContent { TextBody = a }).Should().NotBe(ContentFingerprint.Compute(new EmailContent { TextBody = b }));

    [Theory]
    [InlineData("<p>Order status</p><noscript>Your invoice is attached.</noscript>", "<p>Order status</p><noscript>Your account is locked.</noscript>")]
    [InlineData("<textarea><!--</textarea><p>Your invoice is attached.</p>", "<textarea><!--</textarea><p>Your account is locked.</p>")]
    [InlineData("<textarea><script></textarea><p>Your invoice is attached.</p>", "<textarea><script></textarea><p>Your account is locked.</p>")]
    public void DifferentHtmlTexts_HaveDifferentFingerprints(string a, string b)
        => ContentFingerprint.Compute(new EmailContent { HtmlBody = a }).Should().NotBe(ContentFingerprint.Compute(new EmailContent { HtmlBody = b }));

    [Fact]
    public void Greeting_FollowedByALongSentence_KeepsTheSentence()
    {
        ContentFingerprint.Normalize(new EmailContent { TextBody = "Hello team and everyone who joined the call today, thanks!" })
            .Should().Be("hello team and everyone who joined the call today thanks");
    }

    [Fact]
    public void Attacker_EveryLineAGreeting_OnlyTheFirstIsDropped()
    {
        // A greeting is dropped with up to four words after it. Written as a greeting per line, the whole message was
        // dropped, so each copy was fingerprinted by the random words an attacker added and nothing readers saw.
        EmailContent content = new() { TextBody = "Hi Anna,\nHey cheap meds online now!\nHello visit pharmacy dot example!\nDear friend, order today;\nqwxz plomb" };

        ContentFingerprint.Normalize(content).Should().Be("hey cheap meds online now hello visit pharmacy dot example dear friend order today qwxz plomb");
    }

    [Fact]
    public void Normalize_FoldsMarkupNumbersGreetingsAndQueryStrings()
    {
        EmailContent content = new()
        {
            Subject = "Order #4711 shipped",
            HtmlBody = "<p>Dear Ms. Anna Smith,</p><p>Track it: <a href=\"https://t.example/x?id=9\">https://track.example.com/p/abc?utm_source=mail&amp;id=77</a> on 2026-11-23.</p>",
        };

        ContentFingerprint.Normalize(content).Should().Be("order # shipped track it https track example com p abc on #");
    }

    [Fact]
    public void Fingerprint_IsAHashOfFixedLength_NotTheContent()
    {
        string fingerprint = ContentFingerprint.Compute(BusinessMailCorpus.PurchaseOrder("Anna", "Smith", 4711));

        fingerprint.Should().HaveLength(ContentFingerprint.Length).And.MatchRegex("^[A-Za-z0-9_-]+$");
    }

    [Fact]
    public void Fingerprint_OfA50KBody_AllocatesOnlyItsResult()
    {
        EmailContent content = new() { Subject = "Quarterly report", HtmlBody = LargeBody(50 * 1024) };
        ContentFingerprint.Compute(content);

        long perCall = Allocations.LeastOf(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                ContentFingerprint.Compute(content);
            }
        }) / 10;
        output.WriteLine($"{perCall} bytes allocated per fingerprint of a {content.HtmlBody!.Length}-character body.");
        perCall.Should().BeLessThan(256, "the normalized text goes to a pooled buffer and is hashed in place");
    }

    [Fact]
    public void Fingerprint_OfAHugeBody_ReadsABoundedPrefix()
    {
        string body = LargeBody(ContentFingerprint.MaxPartChars);

        string fingerprint = ContentFingerprint.Compute(new EmailContent { TextBody = body + " unique tail 1" });

        fingerprint.Should().Be(ContentFingerprint.Compute(new EmailContent { TextBody = body + " another tail" }));
    }

    internal static string LargeBody(int length)
    {
        System.Text.StringBuilder builder = new(length + 200);
        int i = 0;
        while (builder.Length < length)
        {
            builder.Append("<p>Line ").Append(i++).Append(": revenue grew in the <b>northern</b> region &amp; costs fell; see https://reports.example.com/q4?session=").Append(i).Append("</p>\n");
        }

        return builder.ToString(0, length);
    }
}
