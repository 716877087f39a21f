using System.Diagnostics;
using EmailGuard.Testing.Addresses;

namespace EmailGuard.Tests.Addresses;

public sealed class EmailAddressNormalizerTests
{
    private static readonly EmailAddressNormalizationOptions Defaults = new();

    public static TheoryData<string, string> EquivalentForms()
    {
        TheoryData<string, string> data = [];
        foreach ((string canonical, string form) in AddressCorpus.AllForms)
        {
            data.Add(canonical, form);
        }

        return data;
    }

    public static TheoryData<string, string> DistinctPairs()
    {
        TheoryData<string, string> data = [];
        foreach ((string a, string b) in AddressCorpus.Distinct)
        {
            data.Add(a, b);
        }

        return data;
    }

    public static TheoryData<string> InvalidInputs() => [.. AddressCorpus.Invalid];

    [Fact]
    public void Corpus_HasAtLeastFiftyEquivalentForms()
    {
        AddressCorpus.AllForms.Count().Should().BeGreaterThanOrEqualTo(50);
        AddressCorpus.AllForms.Select(f => f.Form).Should().OnlyHaveUniqueItems();
    }

    [Theory]
    [MemberData(nameof(EquivalentForms))]
    public void TryNormalize_EquivalentForm_GivesTheCanonicalAddress(string canonical, string form)
    {
        bool valid = EmailAddressNormalizer.TryNormalize(form, Defaults, out NormalizedEmailAddress result, out string? error);

        valid.Should().BeTrue(error);
        result.Address.Should().Be(canonical);
        EmailAddressNormalizer.GetPartitionValue(form, Defaults).Should().Be(canonical);
    }

    [Theory]
    [MemberData(nameof(EquivalentForms))]
    public void TryNormalize_CanonicalFormOfAnyForm_IsAFixedPoint(string canonical, string form)
    {
        EmailAddressNormalizer.TryNormalize(form, Defaults, out NormalizedEmailAddress first, out _).Should().BeTrue();
        EmailAddressNormalizer.TryNormalize(first.Address, Defaults, out NormalizedEmailAddress second, out _).Should().BeTrue();

        second.Address.Should().Be(canonical);
    }

    [Theory]
    [MemberData(nameof(DistinctPairs))]
    public void TryNormalize_DifferentMailboxes_KeepDifferentKeys(string a, string b)
    {
        EmailAddressNormalizer.TryNormalize(a, Defaults, out NormalizedEmailAddress first, out string? errorA).Should().BeTrue(errorA);
        EmailAddressNormalizer.TryNormalize(b, Defaults, out NormalizedEmailAddress second, out string? errorB).Should().BeTrue(errorB);

        first.Address.Should().NotBe(second.Address);
    }

    [Theory]
    [MemberData(nameof(InvalidInputs))]
    public void TryNormalize_HostileInput_RefusedWithAReasonNeverThrown(string input)
    {
        bool valid = EmailAddressNormalizer.TryNormalize(input, Defaults, out NormalizedEmailAddress result, out string? error);

        valid.Should().BeFalse($"'{input}' normalized to '{result.Address}'");
        error.Should().NotBeNullOrWhiteSpace();
        result.Should().Be(default(NormalizedEmailAddress));
        FluentActions.Invoking(() => EmailAddressNormalizer.GetPartitionValue(input, Defaults)).Should().NotThrow();
    }

    [Fact]
    public void TryNormalize_TrailingUnicodeFullStop_IsTheSameDomainNotAFreshOne()
    {
        // The finding: trailing dots were trimmed before IDNA turned U+3002 into a dot, so the key got a dot of its own.
        foreach (char dot in "\u3002\uFF0E\uFF61")
        {
            EmailAddressNormalizer.TryNormalize($"victim@example.com{dot}", Defaults, out NormalizedEmailAddress address, out _).Should().BeTrue();
            address.Domain.Should().Be("example.com");
            EmailAddressNormalizer.TryNormalizeDomain($"example.com{dot}", out string? domain).Should().BeTrue();
            domain.Should().Be("example.com");
        }
    }

    [Theory]
    [InlineData(0x1E9E)]
    [InlineData(0x03F2)]
    [InlineData(0x1D6D3)]
    [InlineData(0x1D70D)]
    [InlineData(0x1D747)]
    [InlineData(0x1D781)]
    [InlineData(0x1D7BB)]
    public void TryNormalizeDomain_CharacterUts46MapsOtherwiseThanLowerCase_TheDomainAResolverSendsTo(int codePoint)
    {
        // Arrange: what IdnMapping (UTS #46, ICU) resolves the domain to; the guard must key the same domain.
        string letter = char.ConvertFromUtf32(codePoint);
        string domain = $"{letter}{letter}.example";
        string resolved = new System.Globalization.IdnMapping { UseStd3AsciiRules = true }.GetAscii(domain);

        // Act
        bool valid = EmailAddressNormalizer.TryNormalizeDomain(domain, out string? keyed);

        // Assert
        valid.Should().BeTrue();
        keyed.Should().Be(resolved);
    }

    [Theory]
    [InlineData("a@joe-citizen.fastmail.com", "joe_citizen@fastmail.com")]
    [InlineData("x@joe-citizen.fastmail.fm", "joe_citizen+y@fastmail.fm")]
    public void TryNormalize_FastmailSubdomainWithAHyphenForAnUnderscore_TheUnderscoreMailboxKey(string subdomainAddress, string mailbox)
        => Normalize(subdomainAddress, Defaults).Should().Be(Normalize(mailbox, Defaults));

    [Fact]
    public void TryNormalize_UnderscoreAtADomainWithoutSubdomainAddressing_Kept()
        => Normalize("joe_citizen@example.com", Defaults).Should().Be("joe_citizen@example.com");

    [Theory]
    [InlineData("victim%example.com@example.com", "victim@example.com")]
    [InlineData("victim%example.com%example.com@example.com", "victim@example.com")]
    [InlineData("example.com!victim@example.com", "victim@example.com")]
    [InlineData("example.com!relay.test!victim@example.com", "relay.test!victim@example.com")]
    [InlineData("J.Doe+x%GoogleMail.com@googlemail.com", "jdoe@gmail.com")]
    [InlineData("a%b%c@relay.test", "a%b%c@relay.test")]
    [InlineData("victim%127.0.0.1@relay.test", "victim%127.0.0.1@relay.test")]
    [InlineData("50%off@shop.example", "50%off@shop.example")]
    [InlineData("hi!there@example.com", "hi!there@example.com")]
    public void TryNormalize_SourceRoutedLocalPart_KeyedAsTheAddressItRoutesTo(string address, string expected)
        => Normalize(address, Defaults).Should().Be(expected);

    [Theory]
    [InlineData("victim%example.com@relay.test", "victim%example.com@relay.test")]
    [InlineData("victim%example.com%example.com@relay.test", "victim%example.com%example.com@relay.test")]
    [InlineData("example.com!victim@relay.test", "example.com!victim@relay.test")]
    [InlineData("victim%example.com%relay.test@relay.test", "victim%example.com@relay.test")]
    public void TryNormalize_SourceRouteToAnotherHost_KeyedAtTheDomainThatReceivesIt(string address, string expected)
        => Normalize(address, Defaults).Should().Be(expected);

    [Fact]
    public void TryNormalize_SourceRouteWithProviderFoldingOff_KeptAsTyped()
        => Normalize("victim%example.com@relay.test", new EmailAddressNormalizationOptions { FoldProviderAliases = false })
            .Should().Be("victim%example.com@relay.test");

    [Fact]
    public void TryNormalize_PlusTagsOff_YandexStillCutsItsTag()
        => Normalize("ivan+x@ya.ru", new EmailAddressNormalizationOptions { StripPlusTags = false })
            .Should().Be("ivan@yandex.com", "Yandex delivers login+tag to login, so the two are one mailbox");

    [Fact]
    public void TryNormalize_ProviderFoldingOff_GmailDotsAndAliasDomainsKeepTheirOwnKeys()
    {
        EmailAddressNormalizationOptions options = new() { FoldProviderAliases = false };

        Normalize("john.doe@gmail.com", options).Should().Be("john.doe@gmail.com");
        Normalize("johndoe@googlemail.com", options).Should().Be("johndoe@googlemail.com");
        Normalize("base-x@yahoo.com", options).Should().Be("base-x@yahoo.com");
        Normalize("anything@user.fastmail.com", options).Should().Be("anything@user.fastmail.com");
        Normalize("victim+x@example.com", options).Should().Be("victim@example.com", "plus-tags are their own setting");
    }

    [Fact]
    public void TryNormalize_PlusTagsOff_ProvidersThatDocumentPlusAddressingStillFold()
    {
        EmailAddressNormalizationOptions options = new() { StripPlusTags = false };

        Normalize("victim+x@example.com", options).Should().Be("victim+x@example.com");
        Normalize("john.doe+x@googlemail.com", options).Should().Be("johndoe@gmail.com");
        EmailAddressNormalizer.TryNormalize("victim+x@example.com", stripPlusTag: false, out NormalizedEmailAddress kept, out _).Should().BeTrue();
        kept.Address.Should().Be("victim+x@example.com");
    }

    [Theory]
    [InlineData("name+x@hotmail.co.uk", "name@hotmail.co.uk")]
    [InlineData("Name+news@Hotmail.FR", "name@hotmail.fr")]
    [InlineData("name+x@hotmail.com.br", "name@hotmail.com.br")]
    [InlineData("name+x@live.ca", "name@live.ca")]
    [InlineData("name+x@windowslive.com", "name@windowslive.com")]
    public void TryNormalize_PlusTagsOff_MicrosoftCountryDomainsStillFoldTheirTags(string address, string expected)
    {
        Normalize(address, new EmailAddressNormalizationOptions { StripPlusTags = false }).Should().Be(expected);
    }

    [Fact]
    public void TryNormalize_AppAddsAProvider_ItsAliasesFold()
    {
        EmailAddressNormalizationOptions options = new();
        options.Providers.Add(new EmailProviderRule
        {
            Name = "Example Mail",
            Domains = ["mail.example", "POST.example"],
            CanonicalDomain = "mail.example",
            IgnoreDots = true,
            SubaddressSeparators = "+-",
        });

        Normalize("a.b-news@post.example", options).Should().Be("ab@mail.example");
        Normalize("a.b-news@post.example", Defaults).Should().Be("a.b-news@post.example");
        EmailAddressNormalizer.TryNormalizeDomain("post.example\u3002", options, out string? domain).Should().BeTrue();
        domain.Should().Be("mail.example");
    }

    [Fact]
    public void TryNormalize_LaterRuleForADomain_ReplacesTheBuiltInOne()
    {
        EmailAddressNormalizationOptions options = new();
        options.Providers.Add(new EmailProviderRule { Name = "Plain Gmail", Domains = ["gmail.com"] });

        Normalize("john.doe@gmail.com", options).Should().Be("john.doe@gmail.com");
    }

    [Fact]
    public void TryNormalizeDomain_AliasDomain_FoldsOnlyWithOptions()
    {
        EmailAddressNormalizer.TryNormalizeDomain("GoogleMail\uFF0Ecom\u3002", out string? plain).Should().BeTrue();
        plain.Should().Be("googlemail.com");
        EmailAddressNormalizer.TryNormalizeDomain("GoogleMail\uFF0Ecom\u3002", Defaults, out string? folded).Should().BeTrue();
        folded.Should().Be("gmail.com");
        EmailAddressNormalizer.TryNormalizeDomain("user.fastmail.com", Defaults, out string? subdomain).Should().BeTrue();
        subdomain.Should().Be("user.fastmail.com", "a domain entry for one Fastmail user's subdomain must not widen to all of Fastmail");
    }

    [Fact]
    public void GetPartitionValue_InvalidLookAlikes_ShareTheKeyOfTheAddressTheyImitate()
    {
        string[] lookAlikes =
        [
            "victim\uFF20example.com",
            "vic\u200Btim@example.com",
            "victim@exa\u00ADmple.com",
            "victim@example.com\u200F",
            "victim @ example.com",
            "victim@example.com\u3002\u3002",
        ];

        lookAlikes.Select(v => EmailAddressNormalizer.GetPartitionValue(v, Defaults)).Should().AllBe("victim@example.com");
        EmailAddressNormalizer.GetPartitionValue("not an address", Defaults).Should().Be("notanaddress");
        EmailAddressNormalizer.GetPartitionValue("NOT AN\u200B ADDRESS", Defaults).Should().Be("notanaddress");
    }

    [Fact]
    public void GetPartitionValue_DisplayNameOrCommentsAroundAnAddress_KeyOfTheAddressItDeliversTo()
    {
        string[] wrapped =
        [
            "1 <victim@example.com>",
            "\"Victim, Inc\" <Victim@Example.com>",
            "<victim@example.com>",
            "victim@example.com (comment)",
            "victim(comment)@example.com",
            "x\u200B <victim\uFF20example.com>",
            "attacker@example.net <victim@example.com>",
        ];

        wrapped.Select(v => EmailAddressNormalizer.GetPartitionValue(v, Defaults)).Should().AllBe("victim@example.com");
        EmailAddressNormalizer.TryNormalize("1 <victim@example.com>", Defaults, out _, out _).Should().BeFalse("the send guard still refuses a display name");
    }

    /// <summary>
    /// MimeKit's <c>MailboxAddress.Parse</c> (the sample's mailer) reads an obsolete source route in angle brackets as
    /// the address after it and mails that address; keyed as written, each new relay name was a fresh counter.
    /// </summary>
    [Theory]
    [InlineData("<@relay1.test:victim@example.com>")]
    [InlineData("<@relay2.test:Victim@Example.com>")]
    [InlineData("x <@relay1.test:victim@example.com>")]
    [InlineData("< @relay1.test : victim@example.com >")]
    [InlineData("<@a.test,@relay1.test:victim@example.com>")]
    [InlineData("<\uFF20relay1.test:victim\uFF20example.com>")]
    public void GetPartitionValue_SourceRouteInAngleBrackets_KeyOfTheAddressAfterTheRoute(string value)
        => EmailAddressNormalizer.GetPartitionValue(value, Defaults).Should().Be("victim@example.com");

    /// <summary>
    /// Spellings MimeKit's <c>MailboxAddress.Parse</c> forgives and mails to the victim: comments inside the domain, an
    /// angle bracket left open or doubled, a display name whose quote never closes. Keyed as written, each new comment,
    /// bracket or display name was a fresh counter for the same mailbox.
    /// </summary>
    [Theory]
    [InlineData("victim@example.(c1)com")]
    [InlineData("victim(c1)@(c2)example(c3).com(c4)")]
    [InlineData("<victim@example.com")]
    [InlineData("x1 <victim@example.com")]
    [InlineData("victim@example.com>")]
    [InlineData("<<victim@example.com>>")]
    [InlineData("<<<victim@example.com>>>")]
    [InlineData("\"x1 <victim@example.com>")]
    public void GetPartitionValue_SpellingMimeKitForgives_KeyOfTheAddressItDeliversTo(string value)
        => EmailAddressNormalizer.GetPartitionValue(value, Defaults).Should().Be("victim@example.com");

    [Fact]
    public void GetPartitionValue_QuotedLocalParts_KeyOfTheMailboxTheirContentNames()
    {
        // Arrange: RFC 5322 makes a quoted local part the same as its content, so the victim's server delivers every one
        // of these to the victim (and cuts the tag), while each was keyed as written: a fresh counter per spelling.
        string[] quoted =
        [
            "\"victim\"@gmail.com",
            "\"victim+1\"@gmail.com",
            "\"V.ictim+2\"@GoogleMail.com",
            "\"v\\ictim\"@gmail.com",
            "\"\\v\\i\\c\\t\\i\\m\"@gmail.com",
            "\"vic\".\"tim+3\"@gmail.com",
            "Name <\"victim+4\"@gmail.com>",
            "\"victim+5\"@gmail.com (comment)",
        ];

        // Act
        IEnumerable<string> keys = quoted.Select(v => EmailAddressNormalizer.GetPartitionValue(v, Defaults));

        // Assert
        keys.Should().AllBe("victim@gmail.com");
        EmailAddressNormalizer.TryNormalize("\"victim\"@gmail.com", Defaults, out _, out _).Should().BeFalse("the send guard still refuses a quoted local part");
    }

    [Theory]
    [InlineData("\"victim@example.com\"@example.com")]
    [InlineData("\"victim\"x@example.com")]
    [InlineData("\"victim@example.com")]
    [InlineData("\"\"@example.com")]
    public void GetPartitionValue_QuotedLocalPartThatNamesNoPlainMailbox_NotTheMailboxItImitates(string value)
        => EmailAddressNormalizer.GetPartitionValue(value, Defaults).Should().NotBe("victim@example.com");

    [Theory]
    [InlineData("\"decoy\"@attacker.test, \"victim\"@example.com")]
    [InlineData("decoy@attacker.test; Victim <\"victim+1\"@example.com>")]
    public void GetPartitionValue_ListOfQuotedAddresses_KeyedAsAnInvalidValue(string list)
    {
        // Act
        string key = EmailAddressNormalizer.GetPartitionValue(list, Defaults);

        // Assert: a list is never keyed as one of its addresses, and its quoted parts are addresses.
        EmailAddressNormalizer.SplitAddressList(list).Select(p => EmailAddressNormalizer.GetPartitionValue(p, Defaults))
            .Should().Contain("victim@example.com");
        key.Should().NotBe("victim@example.com");
    }

    [Theory]
    [InlineData("decoy@attacker.test, victim@example.com", "decoy@attacker.test,victim@example.com")]
    [InlineData("victim@example.com,decoy@attacker.test", "victim@example.com,decoy@attacker.test")]
    [InlineData("decoy@attacker.test; victim@example.com", "decoy@attacker.test;victim@example.com")]
    [InlineData("Decoy <decoy@attacker.test>, \"Victim, Inc\" <victim@example.com>", "decoy<decoy@attacker.test>,\"victim,inc\"<victim@example.com>")]
    [InlineData("decoy@attacker.test\uFF0Cvictim@example.com", "decoy@attacker.test,victim@example.com")]
    [InlineData("victim@example.com, victim@example.com", "victim@example.com,victim@example.com")]
    public void GetPartitionValue_ValueListingSeveralAddresses_KeyedAsAnInvalidValue(string list, string folded)
    {
        // Act
        string key = EmailAddressNormalizer.GetPartitionValue(list, Defaults);

        // Assert: the folded value, as for any invalid value; MailAddress would have kept one of the addresses while a
        // mailer delivers to all of them.
        key.Should().Be(folded);
        key.Should().NotBe("victim@example.com").And.NotBe("decoy@attacker.test");
    }

    [Theory]
    [InlineData("victim@example.com", new[] { "victim@example.com" })]
    [InlineData("decoy@attacker.test, victim@example.com", new[] { "decoy@attacker.test", " victim@example.com" })]
    [InlineData("a@x.test;b@y.test;;", new[] { "a@x.test", "b@y.test" })]
    [InlineData("\"Doe, J.\" <j@x.test>, (c, d) k@y.test", new[] { "\"Doe, J.\" <j@x.test>", " (c, d) k@y.test" })]
    [InlineData("\"a\\\", b\" <a@x.test>", new[] { "\"a\\\", b\" <a@x.test>" })]
    [InlineData("", new string[0])]
    public void SplitAddressList_Value_PartsOutsideQuotesCommentsAndAngleBrackets(string value, string[] expected)
        => EmailAddressNormalizer.SplitAddressList(value).Should().Equal(expected);

    [Theory]
    [InlineData("\"Victim, Inc\" <victim@example.com>")]
    [InlineData("<victim@example.com> (a, b)")]
    [InlineData("\"decoy@attacker.test, x\" <victim@example.com>")]
    public void GetPartitionValue_SeparatorInsideQuotesOrComments_OneAddress(string value)
        => EmailAddressNormalizer.GetPartitionValue(value, Defaults).Should().Be(EmailAddressNormalizer.GetPartitionValue("victim@example.com", Defaults));

    [Fact]
    public void TryNormalize_OversizedInputs_RefusedInBoundedTime()
    {
        string huge = new string('a', 1_000_000) + "@example.com";
        string expanding = "victim@" + new string('\uFDFA', 1_000);
        string manyDots = "victim@" + string.Concat(Enumerable.Repeat("a\u3002", 500));

        Stopwatch watch = Stopwatch.StartNew();
        for (int i = 0; i < 200; i++)
        {
            EmailAddressNormalizer.TryNormalize(huge, Defaults, out _, out _).Should().BeFalse();
            EmailAddressNormalizer.TryNormalize(expanding, Defaults, out _, out _).Should().BeFalse();
            EmailAddressNormalizer.TryNormalize(manyDots, Defaults, out _, out _).Should().BeFalse();
            EmailAddressNormalizer.GetPartitionValue(huge, Defaults).Should().NotBeNull();
            EmailAddressNormalizer.GetPartitionValue(expanding, Defaults).Should().NotBeNull();
        }

        // 1,000 hostile calls; linear work on at most ~1,000 characters each. A generous bound for a shared machine.
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(20));
    }

    private static string Normalize(string address, EmailAddressNormalizationOptions options)
    {
        EmailAddressNormalizer.TryNormalize(address, options, out NormalizedEmailAddress result, out string? error).Should().BeTrue(error);
        return result.Address;
    }

    [Theory]
    [InlineData("x1.victim.com", "victim.com")]
    [InlineData("X2.Victim.COM.", "victim.com")]
    [InlineData("victim.com", "victim.com")]
    [InlineData("a.b.foo.co.uk", "foo.co.uk")]
    [InlineData("co.uk", "co.uk")]
    [InlineData("mail.bücher.de", "xn--bcher-kva.de")]
    [InlineData("x.duckdns.org", "duckdns.org")] // the list's private section is not read: such names are free to anyone
    public void TryGetRegistrableDomain_Domain_IsWhatTheDomainCapCounts(string domain, string expected)
    {
        EmailAddressNormalizer.TryGetRegistrableDomain(domain, out string? result).Should().BeTrue();
        result.Should().Be(expected);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("bad domain.com")]
    [InlineData("a..b.com")]
    public void TryGetRegistrableDomain_NoDomain_False(string? domain)
    {
        EmailAddressNormalizer.TryGetRegistrableDomain(domain, out string? result).Should().BeFalse();
        result.Should().BeNull();
    }
}
