namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Which words the dashboard marks as mixing scripts, and what it spells out in them: an id written with a Cyrillic or
/// Greek letter that looks like a Latin one read as the real party's on every page and in every alert.
/// </summary>
public sealed class LookalikesTests
{
    [Theory]
    [InlineData("\u0430cme", "\\u0430cme [mixed scripts]")] // a Cyrillic а among Latin letters
    [InlineData("\u0430\u0441me", "\\u0430\\u0441me [mixed scripts]")] // as many Cyrillic as Latin: the Cyrillic ones are spelled out
    [InlineData("paypal.c\u03BFm", "paypal.c\\u03BFm [mixed scripts]")] // a Greek omicron in one label
    [InlineData("admin@ex\u0430mple.com", "admin@ex\\u0430mple.com [mixed scripts]")]
    [InlineData("\u13AAcme", "\\u13AAcme [mixed scripts]")] // a Cherokee letter
    [InlineData("\u0561cme", "\\u0561cme [mixed scripts]")] // an Armenian letter
    [InlineData("\uFF41\uFF43\uFF4D\uFF45", "\\uFF41\\uFF43\\uFF4D\\uFF45 [mixed scripts]")] // fullwidth forms, alone
    [InlineData("\U0001D41A\U0001D41C\U0001D426\U0001D41E", "\\U0001D41A\\U0001D41C\\U0001D426\\U0001D41E [mixed scripts]")] // mathematical bold
    [InlineData("\u0251cme", "\\u0251cme [mixed scripts]")] // the IPA alpha
    [InlineData("acme\uFF11", "acme\\uFF11 [mixed scripts]")] // a fullwidth digit
    [InlineData("\u043F\u03BF\u0438\u0441\u043A", "\u043F\\u03BF\u0438\u0441\u043A [mixed scripts]")] // a Greek letter in a Cyrillic word: the Cyrillic stays readable
    [InlineData("m\u00FCll\u0435r", "m\u00FCll\\u0435r [mixed scripts]")] // a Latin ü is Latin; the Cyrillic е is spelled out
    [InlineData("\u0430\u0301cme", "\\u0430\\u0301cme [mixed scripts]")] // a mark goes with its spelled-out letter
    [InlineData("\u0430\u200Bcme", "\\u0430\u200Bcme [mixed scripts]")] // a hidden character does not split the word (the pages then spell it)
    [InlineData("Tenant \u0430cme flagged: manual", "Tenant \\u0430cme [mixed scripts] flagged: manual")] // the marker ends the id, not the sentence
    [InlineData("Clear the flag of Tenant \u0430cme? Its limits", "Clear the flag of Tenant \\u0430cme [mixed scripts]? Its limits")] // before the punctuation after it
    [InlineData("ex\u0430mple.com.", "ex\\u0430mple.com [mixed scripts].")]
    public void Reveal_WordMixingScripts_SpellsOutItsOddLettersAndMarksTheValue(string value, string shown)
        => Lookalikes.Reveal(value).Should().Be(shown);

    [Theory]
    [InlineData("acme")]
    [InlineData("Jos\u00E9 M\u00FCller")] // Latin with diacritics
    [InlineData("\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444")] // a Cyrillic domain
    [InlineData("\u682A\u5F0F\u4F1A\u793E\u3055\u304F\u3089")] // a Japanese name: Han and kana
    [InlineData("ABC\u682A\u5F0F\u4F1A\u793E")] // Latin with Han, as UTS #39 allows
    [InlineData("ivan@\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444")] // a Latin local part at a Cyrillic domain: each word is one script
    [InlineData("\u0411\u043B\u043E\u043A for spam")] // a reason in two languages, word by word
    [InlineData("\u05E9\u05DC\u05D5\u05DD 123")] // Hebrew with ASCII digits
    [InlineData("\u02CBx\u02CB")] // a modifier accent (the Slack alerts' stand-in for a backtick) is no letter of a script
    public void Reveal_WordsOfOneScriptEach_ShownAsTheyAre(string value)
        => Lookalikes.Reveal(value).Should().BeSameAs(value);

    [Theory]
    [InlineData("xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai (\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444)")]
    [InlineData("bob@xn--e1afmkfd.xn--p1ai", "bob@xn--e1afmkfd.xn--p1ai (\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444)")]
    [InlineData("xn--pypal-4ve.com", "xn--pypal-4ve.com (p\\u0430ypal.com) [mixed scripts]")] // punycode hides a lookalike entirely
    [InlineData("Blocked xn--p1ai, then", "Blocked xn--p1ai (\u0440\u0444), then")]
    [InlineData("xn--zz", "xn--zz")] // does not decode: shown as it is
    [InlineData("xn--80ak6aa92e.com", "xn--80ak6aa92e.com (\\u0430\\u0440\\u0440\\u04CF\\u0435.com) [mixed scripts]")] // Cyrillic but for .com: reads apple.com
    [InlineData("Blocked xn--pypal-4ve.com by ops", "Blocked xn--pypal-4ve.com (p\\u0430ypal.com) [mixed scripts] by ops")]
    public void Reveal_PunycodeHost_FollowedByItsUnicodeForm(string value, string shown)
        => Lookalikes.Reveal(value).Should().Be(shown);

    [Theory]
    [InlineData("\u0430\u0441\u0435", "\\u0430\\u0441\\u0435 [looks like Latin: ace]")] // Cyrillic а с е: reads "ace"
    [InlineData("\u0410\u0421\u0415", "\\u0410\\u0421\\u0415 [looks like Latin: ACE]")] // the capitals
    [InlineData("\u0430\u0440\u0440\u04CF\u0435", "\\u0430\\u0440\\u0440\\u04CF\\u0435 [looks like Latin: apple]")] // with a palochka
    [InlineData("\u0391\u0392\u0395", "\\u0391\\u0392\\u0395 [looks like Latin: ABE]")] // Greek
    [InlineData("\u03BF\u03BD\u03B9\u03BF\u03BD", "\\u03BF\\u03BD\\u03B9\\u03BF\\u03BD [looks like Latin: oviov]")] // Greek small letters: ν reads v
    [InlineData("\u13AA\u13F4\u13AC", "\\u13AA\\u13F4\\u13AC [looks like Latin: ABE]")] // Cherokee
    [InlineData("\u0585\u057D", "\\u0585\\u057D [looks like Latin: ou]")] // Armenian
    [InlineData("\uA4EE\uA4D0\uA4F0", "\\uA4EE\\uA4D0\\uA4F0 [looks like Latin: ABE]")] // Lisu
    [InlineData("\u0430\u0441\u04352024", "\\u0430\\u0441\\u04352024 [looks like Latin: ace2024]")] // ASCII digits are no script's
    [InlineData("\u0430\u0441\u0435\u200B", "\\u0430\\u0441\\u0435\u200B [looks like Latin: ace]")] // a hidden character is not read (the pages spell it)
    [InlineData("Tenant \u0430\u0441\u0435 flagged: manual", "Tenant \\u0430\\u0441\\u0435 [looks like Latin: ace] flagged: manual")]
    [InlineData("admin@\u0430\u0441\u0435.\u0441\u043E", "admin@\\u0430\\u0441\\u0435.\\u0441\\u043E [looks like Latin: ace, co]")] // each word once
    [InlineData("\u0430cme@\u0430\u0441\u0435.com", "\\u0430cme@\\u0430\\u0441\\u0435.com [mixed scripts] [looks like Latin: ace]")] // both
    [InlineData("xn--80ak9a.xn--80ak9a", "xn--80ak9a.xn--80ak9a (\\u0430\\u0441\\u0435.\\u0430\\u0441\\u0435) [looks like Latin: ace.ace]")] // a host: one word
    public void Reveal_WordWhollyInLettersThatLookLatin_SpellsThemOutAndSaysWhatItReadsAs(string value, string shown)
        => Lookalikes.Reveal(value).Should().Be(shown);

    [Theory]
    [InlineData("\u043F\u0440\u0438\u043C\u0435\u0440")] // пример: п и м have no Latin twin
    [InlineData("\u041C\u043E\u0441\u043A\u0432\u0430")] // Москва: к в (small) look like small capitals only
    [InlineData("\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444")] // a Cyrillic domain
    [InlineData("xn--e1afmkfd.xn--p1ai")] // its punycode: the Unicode form is unmarked
    [InlineData("\u03BA\u03B1\u03B9")] // και: κ has no Latin twin
    [InlineData("M\u00FCller")] // Latin with a diacritic
    [InlineData("\u682A\u5F0F\u4F1A\u793E\u3055\u304F\u3089")] // Japanese
    [InlineData("\u0440\u0444 2024")] // a word with one twin-less letter, then digits
    public void Reveal_WordOfAnotherScriptWithALetterWithoutALatinTwin_NotMarked(string value)
        => Lookalikes.Reveal(value).Should().NotContain("[looks like Latin").And.NotContain("[mixed scripts]");

    [Theory]
    [InlineData("\u0780\u0781\u07CA", "\u0780\u0781\\u07CA [mixed scripts]")] // Thaana with an NKo letter: one 128-code-point chunk before
    [InlineData("\u2C00\u2C01\u2C81", "\u2C00\u2C01\\u2C81 [mixed scripts]")] // Glagolitic with a Coptic letter
    [InlineData("\uA500\uA501\uA4D8", "\uA500\uA501\\uA4D8 [mixed scripts]")] // Vai with a Lisu letter (one without a Latin twin)
    [InlineData("\u0800\u0801\u0840", "\u0800\u0801\\u0840 [mixed scripts]")] // Samaritan with a Mandaic letter
    [InlineData("\u1401\u1402\u16A0", "\u1401\u1402\\u16A0 [mixed scripts]")] // Canadian syllabics with a Runic letter
    public void Reveal_LettersOfTwoBlocksTheTableDoesNotName_MixScripts(string value, string shown)
        => Lookalikes.Reveal(value).Should().Be(shown);

    [Theory]
    [InlineData("\u0710\u0860")] // Syriac with a Syriac Supplement letter
    [InlineData("\u1000\uAA60")] // Myanmar with Myanmar Extended-A
    [InlineData("\u0915\uA8F2")] // Devanagari with Devanagari Extended
    [InlineData("\u1401\u18B0")] // Canadian syllabics with their extension
    [InlineData("\uA000\uA100\uA200")] // Yi syllables far apart in one block
    [InlineData("\u2D30\u2D31")] // Tifinagh
    public void Reveal_LettersOfOneScriptAcrossItsBlocks_NotMarked(string value)
        => Lookalikes.Reveal(value).Should().BeSameAs(value);

    [Fact]
    public void Visible_SpellsHiddenCharactersInAMarkedWordToo()
        => Html.Visible("\u0430\u200Bcme").Should().Be("\\u0430\\u200Bcme [mixed scripts]");

    [Fact]
    public void OneLine_MarkedWord_StaysReadableOnOneLine()
        => AlertText.OneLine("Tenant \u0430cme\nsuspended").Should().Be("Tenant \\u0430cme [mixed scripts] suspended");

    [Fact]
    public void OneLine_WordThatLooksLatin_SpelledOutAndReadOnOneLine()
        => AlertText.OneLine("Tenant \u0430\u0441\u0435\nsuspended").Should().Be("Tenant \\u0430\\u0441\\u0435 [looks like Latin: ace] suspended");
}
