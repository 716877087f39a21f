namespace EmailGuard.Tests.Addresses;

/// <summary>
/// The registrable domain the recipient-domain cap counts, by the algorithm of publicsuffix.org: normal, wildcard and
/// exception rules, the implicit <c>*</c> rule, IDN rules in their ASCII form; the embedded list's ICANN section only.
/// </summary>
public sealed class PublicSuffixListTests
{
    [Theory]
    [InlineData("victim.com", "victim.com")]
    [InlineData("x1.victim.com", "victim.com")]
    [InlineData("a.b.c.victim.com", "victim.com")]
    [InlineData("notvictim.com", "notvictim.com")]
    [InlineData("foo.co.uk", "foo.co.uk")]
    [InlineData("a.foo.co.uk", "foo.co.uk")]
    [InlineData("co.uk", "co.uk")]
    [InlineData("kyoto.jp", "kyoto.jp")]
    [InlineData("ide.kyoto.jp", "ide.kyoto.jp")]
    [InlineData("b.ide.kyoto.jp", "b.ide.kyoto.jp")]
    [InlineData("a.b.ide.kyoto.jp", "b.ide.kyoto.jp")]
    [InlineData("c.kobe.jp", "c.kobe.jp")]
    [InlineData("b.c.kobe.jp", "b.c.kobe.jp")]
    [InlineData("a.b.c.kobe.jp", "b.c.kobe.jp")]
    [InlineData("city.kobe.jp", "city.kobe.jp")]
    [InlineData("www.city.kobe.jp", "city.kobe.jp")]
    [InlineData("ck", "ck")]
    [InlineData("test.ck", "test.ck")]
    [InlineData("b.test.ck", "b.test.ck")]
    [InlineData("a.b.test.ck", "b.test.ck")]
    [InlineData("www.ck", "www.ck")]
    [InlineData("www.www.ck", "www.ck")]
    [InlineData("example", "example")]
    [InlineData("example.example", "example.example")]
    [InlineData("b.example.example", "example.example")]
    [InlineData("mail.example.invalidtld", "example.invalidtld")]
    [InlineData("mail.victim.duckdns.org", "duckdns.org")]
    [InlineData("someone.blogspot.com", "blogspot.com")]
    [InlineData("a.b.github.io", "github.io")]
    [InlineData("x.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn")]
    [InlineData("xn--55qx5d.cn", "xn--55qx5d.cn")]
    [InlineData("mail.xn--fiqs8s", "mail.xn--fiqs8s")]
    [InlineData("a.mail.xn--fiqs8s", "mail.xn--fiqs8s")]
    [InlineData("a.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai")]
    public void GetRegistrableDomain_IcannList_FollowsThePslAlgorithm(string domain, string expected)
    {
        PublicSuffixList.Icann.GetRegistrableDomain(domain).Should().Be(expected);
    }

    [Fact]
    public void Icann_Loaded_HoldsTheIcannSectionOnly()
    {
        // 6,949 rules in the 2026-08-19 list's ICANN section (7,380 in 2023-02-09's, before the .museum names went);
        // a suffix with a normal and a wildcard rule is one entry.
        PublicSuffixList.Icann.RuleCount.Should().BeInRange(6_600, 6_949);
        PublicSuffixList.Icann.GetRegistrableDomain("a.b.duckdns.org").Should().Be("duckdns.org", "a private-section suffix gives no bucket per name");
    }

    [Fact]
    public void Icann_IsLoadedOnce()
    {
        PublicSuffixList.Icann.Should().BeSameAs(PublicSuffixList.Icann);
    }

    [Theory]
    [InlineData("com", "com")]
    [InlineData("example.com", "example.com")]
    [InlineData("a.example.com", "example.com")]
    [InlineData("a.b.example.com", "example.com")]
    [InlineData("uk.com", "uk.com")]
    [InlineData("example.uk.com", "example.uk.com")]
    [InlineData("b.example.uk.com", "example.uk.com")]
    [InlineData("jp", "jp")]
    [InlineData("test.jp", "test.jp")]
    [InlineData("ac.jp", "ac.jp")]
    [InlineData("test.ac.jp", "test.ac.jp")]
    [InlineData("c.kyoto.jp", "c.kyoto.jp")]
    [InlineData("b.c.kyoto.jp", "b.c.kyoto.jp")]
    [InlineData("a.b.c.kyoto.jp", "b.c.kyoto.jp")]
    [InlineData("kyoto.jp", "kyoto.jp")]
    [InlineData("c.pref.kyoto.jp", "pref.kyoto.jp")]
    [InlineData("pref.kyoto.jp", "pref.kyoto.jp")]
    [InlineData("unlisted.tld", "unlisted.tld")]
    [InlineData("a.unlisted.tld", "unlisted.tld")]
    [InlineData("a.b.xn--fiqs8s", "b.xn--fiqs8s")]
    [InlineData("a.b.c.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn")]
    public void Parse_TinyList_NormalWildcardExceptionAndDefaultRules(string domain, string expected)
    {
        const string list = """
            // This Source Code Form is subject to the terms of the Mozilla Public
            // ===BEGIN ICANN DOMAINS===

            com
            uk.com   a comment after white space
            jp
            ac.jp
            *.kyoto.jp
            !pref.kyoto.jp
            中国
            公司.cn
            """;

        PublicSuffixList psl = PublicSuffixList.Parse(new StringReader(list));

        psl.RuleCount.Should().Be(8, "comments, blank lines and what follows a rule's white space are no rules");
        psl.GetRegistrableDomain(domain).Should().Be(expected);
    }

    [Fact]
    public void Parse_TinyList_ANormalAndAWildcardRuleOnOneSuffix_TheLongerWins()
    {
        PublicSuffixList psl = PublicSuffixList.Parse(new StringReader("ck\n*.ck\n!www.ck\n"));

        psl.GetRegistrableDomain("a.b.ck").Should().Be("a.b.ck", "*.ck makes b.ck a public suffix");
        psl.GetRegistrableDomain("b.ck").Should().Be("b.ck", "a public suffix is its own partition");
        psl.GetRegistrableDomain("a.www.ck").Should().Be("www.ck", "the exception makes ck the public suffix again");
    }

    [Fact]
    public void GetRegistrableDomainStart_AnyDomain_AllocatesNothing()
    {
        PublicSuffixList psl = PublicSuffixList.Icann;
        string[] domains = ["x1.victim.com", "a.foo.co.uk", "www.city.kobe.jp", "a.b.test.ck", "mail.example.invalidtld", "co.uk"];
        int sum = 0;
        foreach (string domain in domains)
        {
            sum += psl.GetRegistrableDomainStart(domain);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            foreach (string domain in domains)
            {
                sum += psl.GetRegistrableDomainStart(domain);
            }
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
        sum.Should().BePositive();
    }
}
