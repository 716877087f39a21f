namespace EmailGuard.Tests.Feedback;

public sealed class FeedbackTagsTests
{
    private static readonly EmailSendAttribution Full = new()
    {
        SendId = "AbC-_12345678901",
        TenantId = "tenant with spaces & = ; \r\n <script>",
        UserId = "用户-42",
        Sender = "noreply@app.example",
        Category = "password-reset",
        ClientNetwork = "2001:db8::/64",
        EndpointPolicy = "signup",
    };

    [Fact]
    public void Write_ThenTryRead_RoundTripsEveryField()
    {
        IReadOnlyDictionary<string, string> tags = EmailFeedbackTags.Write(Full);

        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? read).Should().BeTrue();
        read.Should().BeEquivalentTo(Full);
        tags.Keys.Should().OnlyContain(k => k.StartsWith(EmailFeedbackTags.Prefix, StringComparison.Ordinal));
        tags.Values.Should().OnlyContain(v => v.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-'), "every provider accepts these characters as they are");
        tags[EmailFeedbackTags.SendIdTag].Should().NotBeEmpty();
    }

    public static TheoryData<string> HostileValues => new()
    {
        string.Empty,
        "!!!!",
        "a",
        "YWJj=",
        "YW Jj",
        new string('A', 257),
        "_-_-_-_-",
        "gA",
        "%00",
    };

    [Theory]
    [MemberData(nameof(HostileValues))]
    public void TryRead_HostileValue_IsRefused(string value)
    {
        Dictionary<string, string> tags = new() { ["eg_t"] = value };

        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? read).Should().BeFalse();
        read.Should().BeNull();
    }

    [Fact]
    public async Task Write_AValueTooLongToReadBack_IsLeftOut_SoTheEchoedTagsStillChargeTheOtherParties()
    {
        // Arrange: a user id of 200 characters (an external subject, an address used as the id) is a tag of 268, longer
        // than TryRead (and SES's tag values) take. Written, it made the whole echoed attribution unreadable, so the
        // user's bounces reached neither the user nor the tenant: only the account was charged. The send guard now
        // refuses such an id (InvalidParty), but an attribution the app builds itself (TrackAsync) can still carry one.
        await using FeedbackTestApp app = new(guard: o => o.Tenant.Add(RateLimitRule.PerHour(1_000)));
        OutboundEmail mail = FeedbackTestApp.Mail("someone@example.com");
        EmailSendAttribution attribution = new()
        {
            SendId = "s1",
            TenantId = "acme",
            UserId = new string('u', 200),
            Category = mail.Category,
        };

        // Act: the tags as the guarded sender gives them to the provider, read back from its bounce as the webhooks read them.
        IReadOnlyDictionary<string, string> tags = EmailFeedbackTags.Write(attribution);
        bool readable = EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? echoed);
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b1", recipient: "someone@example.com", attribution: readable ? echoed : null));

        // Assert
        tags.Values.Should().OnlyContain(v => v.Length <= 256);
        tags.Should().NotContainKey("eg_u");
        readable.Should().BeTrue();
        echoed!.TenantId.Should().Be("acme");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1, "the tenant is charged for its user's bounce");
    }

    [Fact]
    public void Write_ASenderLongerThanOneTag_GoesOnInASecondTag_AndReadsBackWhole()
    {
        // A valid address of 254 characters, 339 encoded: left out, its feedback never reached the sender.
        string sender = new string('l', 64) + "@" + new string('a', 63) + "." + new string('b', 63) + "." + new string('c', 53) + ".example";
        EmailSendAttribution attribution = new() { TenantId = "acme", Sender = sender };

        IReadOnlyDictionary<string, string> tags = EmailFeedbackTags.Write(attribution);

        sender.Should().HaveLength(EmailAddressNormalizer.MaxAddressLength);
        tags.Values.Should().OnlyContain(v => v.Length <= 256);
        tags.Should().ContainKeys("eg_s", "eg_s2");
        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? read).Should().BeTrue();
        read.Should().BeEquivalentTo(attribution);
        FeedbackKeys.Deserialize(FeedbackKeys.Serialize(attribution)).Should().BeEquivalentTo(attribution);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("YWJj")]
    public void TryRead_ASecondSenderTagThatContinuesNoFullFirstOne_IsRefused(string? first)
    {
        Dictionary<string, string> tags = new() { ["eg_t"] = "YWNtZQ", ["eg_s2"] = "YWJj" };
        if (first is not null)
        {
            tags["eg_s"] = first;
        }

        EmailFeedbackTags.TryRead(tags, out _).Should().BeFalse();
    }

    [Fact]
    public void TryRead_NoEmailGuardTags_IsFalse()
    {
        EmailFeedbackTags.TryRead(new Dictionary<string, string> { ["campaign"] = "x" }, out _).Should().BeFalse();
        EmailFeedbackTags.TryRead(null, out _).Should().BeFalse();
    }

    [Fact]
    public void TryRead_OneGoodTagAmongUnknownOnes_ReadsIt()
    {
        Dictionary<string, string> tags = new(EmailFeedbackTags.Write(new EmailSendAttribution { TenantId = "acme" })) { ["eg_zz"] = "!!", ["other"] = "x" };

        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? read).Should().BeTrue();
        read!.TenantId.Should().Be("acme");
    }

    [Fact]
    public void MappingValue_RoundTripsAndRefusesGarbage()
    {
        FeedbackKeys.Deserialize(FeedbackKeys.Serialize(Full)).Should().BeEquivalentTo(Full);
        FeedbackKeys.Deserialize("eg_t=!!&&=x&eg_u").Should().BeNull();
        FeedbackKeys.Deserialize(null).Should().BeNull();
    }

    public static TheoryData<string, EmailSendAttribution> PostmarkAttributions => new()
    {
        { "short values", Full },
        { "a sender of 61 bytes", Like(Full, sender: new string('s', 49) + "@app.example") },
        { "a sender of 254 characters, two tags", Like(Full, sender: new string('l', 64) + "@" + new string('a', 63) + "." + new string('b', 63) + "." + new string('c', 53) + ".example") },
        { "ids of 192 bytes", Like(Full, tenant: new string('t', 192), user: new string('u', 192), category: new string('c', 192), policy: new string('p', 192)) },
    };

    private static EmailSendAttribution Like(EmailSendAttribution a, string? tenant = null, string? user = null, string? sender = null, string? category = null, string? policy = null) => new()
    {
        SendId = a.SendId,
        TenantId = tenant ?? a.TenantId,
        UserId = user ?? a.UserId,
        Sender = sender ?? a.Sender,
        Category = category ?? a.Category,
        ClientNetwork = a.ClientNetwork,
        EndpointPolicy = policy ?? a.EndpointPolicy,
    };

    [Theory]
    [MemberData(nameof(PostmarkAttributions))]
    public void ToPostmarkMetadata_AnyAttribution_FitsPostmarksLimits_WithRoomForThreeAppTags(string because, EmailSendAttribution attribution)
    {
        // Postmark refuses the whole message (422) when a metadata name is longer than 20 characters or a value longer
        // than 80, and takes at most 10 fields; EmailGuard's tags are written for SES's 256.
        Dictionary<string, string> tags = new(EmailFeedbackTags.Write(attribution)) { ["app_a"] = "1", ["app_b"] = "2", ["app_c"] = "3" };

        IReadOnlyDictionary<string, string> metadata = EmailFeedbackTags.ToPostmarkMetadata(tags);

        metadata.Should().HaveCountLessThanOrEqualTo(EmailFeedbackTags.PostmarkMaxFields, because);
        metadata.Keys.Should().OnlyContain(k => k.Length <= EmailFeedbackTags.PostmarkMaxNameLength, because);
        metadata.Values.Should().OnlyContain(v => v.Length <= EmailFeedbackTags.PostmarkMaxValueLength, because);
        metadata.Should().Contain("app_c", "3").And.ContainKey(EmailFeedbackTags.SendIdTag);
    }

    [Fact]
    public void ToPostmarkMetadata_ValuesThatFit_AreAllKept_AndReadBackWhole()
    {
        IReadOnlyDictionary<string, string> metadata = EmailFeedbackTags.ToPostmarkMetadata(EmailFeedbackTags.Write(Full));

        metadata.Should().Equal(EmailFeedbackTags.Write(Full));
        EmailFeedbackTags.TryRead(metadata, out EmailSendAttribution? read).Should().BeTrue();
        read.Should().BeEquivalentTo(Full);
    }

    [Fact]
    public async Task ToPostmarkMetadata_AValueLongerThanPostmarkTakes_KeepsTheSendIdAlone_AndTheMessageIdMappingChargesEveryParty()
    {
        // Arrange: a sender of 99 characters, 132 encoded. As written, Postmark refused the message; with only that tag
        // left out, the echoed rest would be taken for the whole attribution and the sender never charged.
        await using FeedbackTestApp app = new();
        string sender = new string('l', 60) + "@" + new string('a', 30) + ".example";
        EmailSendAttribution attribution = Like(Full, tenant: "acme", sender: sender);
        await app.Feedback.TrackForProviderAsync("postmark", "pm-1", attribution);

        // Act: the metadata Postmark echoes in the bounce, read as the webhook reads it.
        IReadOnlyDictionary<string, string> metadata = EmailFeedbackTags.ToPostmarkMetadata(EmailFeedbackTags.Write(attribution));
        EmailFeedbackTags.TryRead(metadata, out EmailSendAttribution? echoed).Should().BeTrue();
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b1", attribution: echoed, messageId: "pm-1", provider: "postmark"));

        // Assert
        metadata.Keys.Should().Equal(EmailFeedbackTags.SendIdTag);
        echoed.Should().BeEquivalentTo(new EmailSendAttribution { SendId = Full.SendId });
        (await app.Counts.GetAsync(EmailGuardDimension.Sender, sender)).Bounces.Should().Be(1, "the mapping holds the whole attribution");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task ToPostmarkMetadata_FourAppTags_StillTenFieldsAtMost_KeepsTheSendIdAndTheAppsTags_AndTheMappingCharges()
    {
        // Arrange: short values, which all fit, and four tags of the app's own: eleven fields as written, a message
        // Postmark refuses whole.
        await using FeedbackTestApp app = new();
        EmailSendAttribution attribution = Like(Full, tenant: "acme");
        await app.Feedback.TrackForProviderAsync("postmark", "pm-2", attribution);
        Dictionary<string, string> tags = new(EmailFeedbackTags.Write(attribution)) { ["app_a"] = "1", ["app_b"] = "2", ["app_c"] = "3", ["app_d"] = "4" };

        // Act
        IReadOnlyDictionary<string, string> metadata = EmailFeedbackTags.ToPostmarkMetadata(tags);
        EmailFeedbackTags.TryRead(metadata, out EmailSendAttribution? echoed).Should().BeTrue();
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b2", attribution: echoed, messageId: "pm-2", provider: "postmark"));

        // Assert
        metadata.Should().HaveCountLessThanOrEqualTo(EmailFeedbackTags.PostmarkMaxFields);
        metadata.Keys.Should().BeEquivalentTo(EmailFeedbackTags.SendIdTag, "app_a", "app_b", "app_c", "app_d");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1, "the mapping holds the whole attribution");
    }

    /// <summary>A tag dictionary an app built with a null value (the type says none, the runtime allows it) is unreadable, not a crash inside the recorder.</summary>
    [Fact]
    public void TryRead_NullValues_AreUnreadable()
    {
        EmailSendAttribution attribution = new() { SendId = "s1", TenantId = "acme", Sender = new string('a', 190) + "@example.com" };
        foreach (string name in EmailFeedbackTags.Write(attribution).Keys)
        {
            Dictionary<string, string> tags = new(EmailFeedbackTags.Write(attribution)) { [name] = null! };

            EmailFeedbackTags.TryRead(tags, out _).Should().BeFalse(name);
        }
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7/32")]
    [InlineData("203.0.113.0/24", "203.0.113.0/24")]
    [InlineData("203.0.113.9/24", "203.0.113.0/24")]
    [InlineData("2001:db8:0:0:1::5", "2001:db8::/64")]
    [InlineData("2001:DB8::/64", "2001:db8::/64")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7/32")]
    [InlineData("203.0.113.7/33", null)]
    [InlineData("203.0.113.7/-1", null)]
    [InlineData("example.com", null)]
    [InlineData("", null)]
    public void Network_IsCanonical(string text, string? expected)
        => FeedbackKeys.Network(text, 32, 64).Should().Be(expected);

    /// <summary>
    /// NAT64, 6to4 and Teredo clients are counted as the IPv4 client they carry, grouped by the guard's IPv4 prefix
    /// (here /24): a lookup that names them in their IPv6 form finds the same counter. Before, a 6to4 host's /48 or a
    /// NAT64 address with a prefix was read as the carried address's /32 and found nothing, and a NAT64 /120 was read
    /// as a /32 as well.
    /// </summary>
    [Theory]
    [InlineData("2002:cb00:7107::/48", "203.0.113.0/24")]
    [InlineData("2002:cb00:7107:5::/64", "203.0.113.0/24")]
    [InlineData("2002:cb00:7100::/40", "203.0.113.0/24")]
    [InlineData("2002:cb00::/32", "203.0.0.0/16")]
    [InlineData("64:ff9b::cb00:7107/128", "203.0.113.0/24")]
    [InlineData("64:ff9b::cb00:7100/120", "203.0.113.0/24")]
    [InlineData("2001:0:4136:e378:8000:63bf:34ff:8ef8/128", "203.0.113.0/24")]
    [InlineData("2002::/16", "2002::/16")]
    [InlineData("64:ff9b::/96", "64:ff9b::/96")]
    [InlineData("2001:db8::/48", "2001:db8::/48")]
    public void Network_CarryingAnIPv4Client_IsThatClientsNetwork(string text, string expected)
        => FeedbackKeys.Network(text, 24, 64).Should().Be(expected);
}
