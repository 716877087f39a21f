using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

public sealed class EmailGuardListsTests
{
    private static async Task<(ServiceProvider Services, IEmailGuardLists Lists, FakeTimeProvider Time)> SeededAsync()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        ServiceProvider sp = SendGuardTestServices.Build(time: time);
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap1@spam.example", "spam_trap", addedBy: "ops");
        time.Advance(TimeSpan.FromMinutes(1));
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap2@spam.example", "spam_trap", TimeSpan.FromMinutes(5), "ops");
        time.Advance(TimeSpan.FromMinutes(1));
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "bad.example", "abuse_report", addedBy: "alice");
        time.Advance(TimeSpan.FromMinutes(1));
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, "trial-4711", "abuse_report", addedBy: "bob");
        time.Advance(TimeSpan.FromMinutes(1));
        await lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Recipient, "monitor@ops.example", "uptime_probe", addedBy: "ops");
        return (sp, lists, time);
    }

    [Fact]
    public async Task ChangeToken_FiresAfterAWriteOfItsPartyTypeOnly_ThenANewTokenForTheNext()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;
        int networkChanges = 0;
        bool foundInCallback = false;
        using IDisposable watch = ChangeToken.OnChange(() => lists.GetChangeToken(EmailGuardPartyType.ClientNetwork), () =>
        {
            networkChanges++;

            // The instance's own view holds the entry by the time the token fires.
            foundInCallback = lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24").AsTask().Result is not null;
        });

        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap3@spam.example", "spam_trap");
        int afterRecipient = networkChanges;
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24", "flood");
        int afterBan = networkChanges;
        bool foundAfterBan = foundInCallback;
        await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.0/24");
        int afterRemovingNothing = networkChanges;
        await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24");

        afterRecipient.Should().Be(0);
        afterBan.Should().Be(1);
        foundAfterBan.Should().BeTrue();
        afterRemovingNothing.Should().Be(1);
        networkChanges.Should().Be(2);
    }

    [Fact]
    public async Task ChangeToken_CallbackThrows_WriteSucceedsAndOtherWatchersAreTold()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;
        IChangeToken token = lists.GetChangeToken(EmailGuardPartyType.ClientNetwork);
        bool told = false;
        using IDisposable throwing = token.RegisterChangeCallback(_ => throw new InvalidOperationException("watcher bug"), null);
        using IDisposable other = token.RegisterChangeCallback(_ => told = true, null);

        EmailGuardListEntry entry = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24", "flood");

        entry.Value.Should().Be("203.0.113.0/24");
        told.Should().BeTrue();
        token.HasChanged.Should().BeTrue();
        lists.GetChangeToken(EmailGuardPartyType.ClientNetwork).HasChanged.Should().BeFalse();
    }

    [Fact]
    public async Task List_DefaultQuery_NewestFirstActiveBlocklistOnly()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        EmailGuardListPage page = await lists.ListAsync(new EmailGuardListQuery());

        page.TotalCount.Should().Be(4);
        page.Items.Select(e => e.Value).Should().Equal("trial-4711", "bad.example", "trap2@spam.example", "trap1@spam.example");
    }

    [Fact]
    public async Task List_SearchReasonTypeFilters_Apply()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        (await lists.ListAsync(new EmailGuardListQuery { Search = "SPAM.example" })).TotalCount.Should().Be(2);
        (await lists.ListAsync(new EmailGuardListQuery { Search = "alice" })).Items.Should().ContainSingle().Which.Value.Should().Be("bad.example");
        (await lists.ListAsync(new EmailGuardListQuery { Reason = "ABUSE_REPORT" })).TotalCount.Should().Be(2);
        (await lists.ListAsync(new EmailGuardListQuery { PartyType = EmailGuardPartyType.RecipientDomain })).Items.Should().ContainSingle();
        (await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Allowlist })).Items.Should().ContainSingle().Which.Reason.Should().Be("uptime_probe");
    }

    [Fact]
    public async Task List_PagingAndOrdering_AreStable()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        EmailGuardListPage first = await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.Value, Descending = false, Take = 3 });
        EmailGuardListPage second = await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.Value, Descending = false, Skip = 3, Take = 3 });

        first.Items.Select(e => e.Value).Should().Equal("bad.example", "trap1@spam.example", "trap2@spam.example");
        second.Items.Select(e => e.Value).Should().Equal("trial-4711");
        first.TotalCount.Should().Be(4);
        (await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.ExpiresAt, Descending = false })).Items[0].Value.Should().Be("trap2@spam.example");
        (await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.Reason, Descending = false })).Items[0].Reason.Should().Be("abuse_report");

        // Without Descending, each field has its natural order: values and reasons A to Z, expiries soonest first.
        (await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.Value })).Items.Select(e => e.Value)
            .Should().Equal("bad.example", "trap1@spam.example", "trap2@spam.example", "trial-4711");
        (await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.Reason })).Items[0].Reason.Should().Be("abuse_report");
        (await lists.ListAsync(new EmailGuardListQuery { OrderBy = EmailGuardListOrder.ExpiresAt })).Items[0].Value.Should().Be("trap2@spam.example");
    }

    [Fact]
    public async Task List_ExpiredEntries_OnlyWithIncludeExpired()
    {
        (ServiceProvider sp, IEmailGuardLists lists, FakeTimeProvider time) = await SeededAsync();
        await using ServiceProvider owned = sp;
        time.Advance(TimeSpan.FromMinutes(10));

        (await lists.ListAsync(new EmailGuardListQuery())).TotalCount.Should().Be(3);
        (await lists.ListAsync(new EmailGuardListQuery { IncludeExpired = true })).TotalCount.Should().Be(4);
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap2@spam.example")).Should().BeNull();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "TRAP1+x@Spam.example")).Should().NotBeNull();
    }

    [Fact]
    public async Task CountByReason_CountsActiveEntries()
    {
        (ServiceProvider sp, IEmailGuardLists lists, FakeTimeProvider time) = await SeededAsync();
        await using ServiceProvider owned = sp;
        time.Advance(TimeSpan.FromMinutes(10));

        IReadOnlyDictionary<string, int> counts = await lists.CountByReasonAsync(EmailGuardListKind.Blocklist);
        IReadOnlyDictionary<string, int> withExpired = await lists.CountByReasonAsync(EmailGuardListKind.Blocklist, includeExpired: true);

        counts.Should().BeEquivalentTo(new Dictionary<string, int> { ["spam_trap"] = 1, ["abuse_report"] = 2 });
        withExpired["spam_trap"].Should().Be(2);
    }

    [Fact]
    public async Task Remove_Entry_UnblocksAtOnce()
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["someone@bad.example"] };
        (await guard.CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted);

        (await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "BAD.example")).Should().BeTrue();

        (await guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        (await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "bad.example")).Should().BeFalse();
    }

    [Theory]
    [InlineData(EmailGuardPartyType.Recipient, "\"quoted local\"@example.com")]
    [InlineData(EmailGuardPartyType.RecipientDomain, "no_dots")]
    [InlineData(EmailGuardPartyType.ClientNetwork, "10.0.0.0/99")]
    public async Task Remove_AnEntryStoredInAFormThatNoLongerNormalizes_RemovedAsStored(EmailGuardPartyType type, string value)
    {
        // Arrange: an entry an older version or a direct write stored in a form the lists now refuse. It is listed (and
        // matched) as stored, but removing it normalized the value first and threw, so nothing could remove it.
        await using ServiceProvider sp = SendGuardTestServices.Build();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await sp.GetRequiredService<IEmailGuardStateStore>().UpsertListEntryAsync(
            new EmailGuardListEntry { Kind = EmailGuardListKind.Blocklist, PartyType = type, Value = value, Reason = "imported", CreatedAt = SendGuardTestServices.Start },
            CancellationToken.None);
        Func<Task> removeOther = async () => await lists.RemoveAsync(EmailGuardListKind.Blocklist, type, value + "x");

        // Act
        bool removed = await lists.RemoveAsync(EmailGuardListKind.Blocklist, type, value);

        // Assert
        removed.Should().BeTrue();
        (await lists.ListAsync(new EmailGuardListQuery { IncludeExpired = true })).TotalCount.Should().Be(0);
        await removeOther.Should().ThrowAsync<ArgumentException>("a value no entry is stored as is refused as before");
    }

    [Theory]
    [InlineData(EmailGuardPartyType.Recipient, "not-an-address")]
    [InlineData(EmailGuardPartyType.RecipientDomain, "no_dots")]
    [InlineData(EmailGuardPartyType.Tenant, " ")]
    public async Task Add_InvalidValue_ThrowsArgumentException(EmailGuardPartyType type, string value)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build();

        Func<Task> add = async () => await sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, type, value, "x");

        await add.Should().ThrowAsync<ArgumentException>();
    }

    /// <summary>One admin call allowlisting every address would turn every limit off for every client.</summary>
    [Theory]
    [InlineData("0.0.0.0/0")]
    [InlineData("::/0")]
    [InlineData("::ffff:0.0.0.0/96")]
    [InlineData("10.1.2.3/0")]
    public async Task Add_AllowlistedNetworkOfEveryAddress_IsRefusedAndNothingIsStored(string network)
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        Func<Task> add = async () => await lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, network, "office");

        (await add.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("every address");
        (await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Allowlist })).Items.Should().NotContain(e => e.PartyType == EmailGuardPartyType.ClientNetwork);
        (await lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, "10.0.0.0/8", "office")).Value.Should().Be("10.0.0.0/8");
    }

    /// <summary>
    /// Refusing only <c>/0</c> let two halves of every address through, allowlisted one after the other; and a
    /// blocklisted <c>/0</c> refused every client.
    /// </summary>
    [Theory]
    [InlineData(EmailGuardListKind.Allowlist, "0.0.0.0/1", "is wider than a /8")]
    [InlineData(EmailGuardListKind.Allowlist, "128.0.0.0/1", "is wider than a /8")]
    [InlineData(EmailGuardListKind.Allowlist, "10.0.0.0/7", "is wider than a /8")]
    [InlineData(EmailGuardListKind.Allowlist, "2000::/3", "is wider than a /32")]
    [InlineData(EmailGuardListKind.Allowlist, "::ffff:0.0.0.0/97", "is wider than a /8")]
    [InlineData(EmailGuardListKind.Blocklist, "0.0.0.0/0", "is every address")]
    [InlineData(EmailGuardListKind.Blocklist, "::/0", "is every address")]
    [InlineData(EmailGuardListKind.Blocklist, "0.0.0.0/1", "is wider than a /8")]
    [InlineData(EmailGuardListKind.Blocklist, "2001:db8::/31", "is wider than a /32")]
    public async Task Add_NetworkWiderThanTheBound_IsRefusedAndNothingIsStored(EmailGuardListKind kind, string network, string why)
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        Func<Task> add = async () => await lists.AddAsync(kind, EmailGuardPartyType.ClientNetwork, network, "office");

        (await add.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain(why);
        (await lists.ListAsync(new EmailGuardListQuery { Kind = kind })).Items.Should().NotContain(e => e.PartyType == EmailGuardPartyType.ClientNetwork);
    }

    /// <summary>The bound itself is taken: a /8 of IPv4 and a /32 of IPv6, on either list.</summary>
    [Theory]
    [InlineData(EmailGuardListKind.Allowlist, "10.0.0.0/8")]
    [InlineData(EmailGuardListKind.Allowlist, "2001:db8::/32")]
    [InlineData(EmailGuardListKind.Blocklist, "45.0.0.0/8")]
    [InlineData(EmailGuardListKind.Blocklist, "2001:db8::/32")]
    public async Task Add_NetworkAtTheBound_IsStored(EmailGuardListKind kind, string network)
    {
        (ServiceProvider sp, IEmailGuardLists lists, _) = await SeededAsync();
        await using ServiceProvider owned = sp;

        (await lists.AddAsync(kind, EmailGuardPartyType.ClientNetwork, network, "office")).Value.Should().Be(network);
    }
}
