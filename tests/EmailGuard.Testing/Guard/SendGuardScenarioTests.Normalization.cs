using EmailGuard.Testing.Addresses;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>One mailbox, one key: look-alike spellings share counters and list entries, on every store.</summary>
public abstract partial class SendGuardScenarioTests
{
    [Fact]
    public async Task Normalization_EveryLookAlikeFormOfOneMailbox_IsLimitedAsOne()
    {
        foreach ((string canonical, string[] forms) in AddressCorpus.Equivalent)
        {
            SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(3)));
            List<EmailSendDecision> decisions = [];
            foreach (string form in forms)
            {
                decisions.Add(await h.Guard.CheckAsync(Mail(form)));
            }

            decisions.Count(d => d.IsAllowed).Should().Be(3, $"the {forms.Length} spellings of {canonical} are one inbox");
            decisions.Where(d => !d.IsAllowed).Should().AllSatisfy(d =>
            {
                d.Reason.Should().Be(EmailSendReason.LimitExceeded);
                d.Recipient.Should().Be(canonical);
            });
            (await h.CountAsync(new EmailGuardStatusQuery { Recipient = forms[^1] }, EmailGuardDimension.Recipient)).Should().Be(3);
        }
    }

    [Fact]
    public async Task Normalization_DomainSpellings_ShareOneDomainCounter()
    {
        SendGuardHarness h = Create(o => o.RecipientDomain.Add(RateLimitRule.PerHour(5)));
        string[] recipients =
        [
            "a@example.com", "b@example.com\u3002", "c@\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25.com", "d@example\uFF0Ecom",
            "e@example\uFF61com\uFF61", "f@example.com.", "g@EXAMPLE.COM",
        ];

        int allowed = 0;
        foreach (string recipient in recipients)
        {
            allowed += (await h.Guard.CheckAsync(Mail(recipient))).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(5);

        // Fastmail subdomain addressing: every subdomain is one account at fastmail.com, not a domain of its own.
        SendGuardHarness fastmail = Create(o => o.RecipientDomain.Add(RateLimitRule.PerHour(2)));
        int through = 0;
        for (int i = 0; i < 6; i++)
        {
            through += (await fastmail.Guard.CheckAsync(Mail($"x@user{i}.fastmail.com"))).IsAllowed ? 1 : 0;
        }

        through.Should().Be(2);
    }

    [Fact]
    public async Task Normalization_SourceRoutedSpellings_CountAgainstTheDomainThatReceivesThem()
    {
        // Arrange: a cap of 2 a domain and 1 a recipient; routes through the victim's own domain nest, routes to another
        // host are delivered (or bounced) at the domain after the '@', which is the one they count against.
        SendGuardHarness h = Create(o =>
        {
            o.RecipientDomain.Add(RateLimitRule.PerHour(2));
            o.Recipient.Add(RateLimitRule.PerHour(1));
        });

        // Act
        bool nested = (await h.Guard.CheckAsync(Mail("d%example.com%example.com@example.com"))).IsAllowed;
        bool plain = (await h.Guard.CheckAsync(Mail("d@example.com"))).IsAllowed;
        List<bool> elsewhere = [];
        for (int i = 0; i < 3; i++)
        {
            elsewhere.Add((await h.Guard.CheckAsync(Mail($"ceo{i}%victim.test@catchall.test"))).IsAllowed);
        }

        // Assert
        nested.Should().BeTrue();
        plain.Should().BeFalse("the nested route is d@example.com's one permit");
        elsewhere.Should().Equal([true, true, false], "mail to catchall.test counts against catchall.test");
        (await h.Guard.CheckAsync(Mail("ceo0@victim.test"))).IsAllowed.Should().BeTrue("mail delivered elsewhere spends none of the victim's caps");
    }

    [Fact]
    public async Task Blocklist_RecipientEntryInAnyForm_HitsEveryEquivalentForm()
    {
        foreach ((string canonical, string[] forms) in AddressCorpus.Equivalent)
        {
            SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(100)));
            await h.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, forms[^1], "complaint", addedBy: "ops");

            foreach (string form in forms)
            {
                EmailSendDecision decision = await h.Guard.CheckAsync(Mail(form));
                decision.Reason.Should().Be(EmailSendReason.Blocklisted, $"'{form}' is {canonical}");
                decision.Dimension.Should().Be(EmailGuardDimension.Recipient);
                decision.Recipient.Should().Be(canonical);
                (await h.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, form)).Should().NotBeNull();
            }

            (await h.CountAsync(new EmailGuardStatusQuery { Recipient = canonical }, EmailGuardDimension.Recipient)).Should().Be(0);
        }
    }

    [Fact]
    public async Task Blocklist_DomainEntryInAnyForm_HitsEveryEquivalentForm()
    {
        (string Entry, string[] Forms)[] cases =
        [
            ("\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25\uFF0Ecom\u3002", AddressCorpus.Equivalent[0].Forms),
            ("b\u00FCcher\uFF61example", AddressCorpus.Equivalent[1].Forms),
            ("googlemail.com", AddressCorpus.Equivalent[2].Forms),
            ("pm.me", AddressCorpus.Equivalent[3].Forms),
            ("me.com", AddressCorpus.Equivalent[4].Forms),
        ];

        foreach ((string entry, string[] forms) in cases)
        {
            SendGuardHarness h = Create(o => o.RecipientDomain.Add(RateLimitRule.PerHour(100)));
            await h.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, entry, "abuse_report", addedBy: "ops");

            foreach (string form in forms)
            {
                EmailSendDecision decision = await h.Guard.CheckAsync(Mail(form));
                decision.Reason.Should().Be(EmailSendReason.Blocklisted, $"'{form}' is at the domain '{entry}'");
                decision.Dimension.Should().Be(EmailGuardDimension.RecipientDomain);
            }
        }
    }

    [Fact]
    public async Task Blocklist_EntryStoredInARawSpelling_StillMatchesAndIsRemovedByAnySpelling()
    {
        SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(100)));

        // As an older version or a direct write to the state store would have left it.
        await h.StateCache.Store.UpsertListEntryAsync(
            new EmailGuardListEntry
            {
                Kind = EmailGuardListKind.Blocklist,
                PartyType = EmailGuardPartyType.Recipient,
                Value = "John.Doe@GoogleMail.com\u3002",
                Reason = "complaint",
                CreatedAt = h.Time.GetUtcNow(),
            },
            CancellationToken.None);
        await h.StateCache.ReloadAfterWriteAsync(CancellationToken.None);

        (await h.Guard.CheckAsync(Mail("johndoe@gmail.com"))).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await h.Lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "j.o.h.n.doe@gmail.com")).Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("johndoe@gmail.com"))).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Allowlist_RecipientEntryInOneForm_SkipsTheLimitForEveryForm()
    {
        SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(1)));
        await h.Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Recipient, "John.Doe@googlemail.com\uFF0E", "vip", addedBy: "ops");

        foreach (string form in AddressCorpus.Equivalent[2].Forms)
        {
            (await h.Guard.CheckAsync(Mail(form))).IsAllowed.Should().BeTrue(form);
        }

        (await h.Guard.CheckAsync(Mail("someone@gmail.com"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("some.one@googlemail.com"))).IsAllowed.Should().BeFalse("only the allowlisted inbox skips its limit");
    }

    [Fact]
    public async Task Normalization_ProviderFoldingTurnedOff_GmailDotsCountApart()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Recipient.Add(RateLimitRule.PerHour(1));
            o.AddressNormalization.FoldProviderAliases = false;
        });

        (await h.Guard.CheckAsync(Mail("johndoe@gmail.com"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("john.doe@gmail.com"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("JohnDoe@gmail.com\u3002"))).IsAllowed.Should().BeFalse("case and Unicode dots still fold");
    }
}
