using System.Diagnostics.Metrics;
using EmailGuard.Testing.Stores;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// A rogue tenant whose own tags reach the provider (an app that passes its customers' tags or headers through outside
/// the guarded senders) names a rival in EmailGuard's tags, so that the rival is charged its bounces and its ratio
/// breaker suspends it. With signing keys, tags name a party only when one of the keys signed exactly them; the bounce
/// still suppresses its address. No message-id mapping in these tests: the tags alone decide.
/// </summary>
public sealed class FeedbackTagSigningTests
{
    private static readonly string s_key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string s_oldKey = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
    private static readonly string s_otherKey = Convert.ToBase64String(Enumerable.Range(201, 48).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task GenuineSignedTags_ChargeTheTenantTheyName()
    {
        // Arrange
        await using FeedbackTestApp app = App(s_key);
        IReadOnlyDictionary<string, string> tags = await TagsOfAdmittedMailAsync(app, "rival");

        // Act
        await app.Feedback.RecordAsync(Bounce("evt-1", tags));

        // Assert
        tags.Should().ContainKey(EmailFeedbackTags.SignatureTag).WhoseValue.Should().HaveLength(22);
        (await BouncesAsync(app, "rival")).Should().Be(1);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3162);
    }

    [Fact]
    public async Task UnsignedTagsNamingARival_ChargeTheAccountOnly_AndStillSuppressTheAddress()
    {
        // Arrange
        using TestMeterFactory meterFactory = new();
        await using FeedbackTestApp app = App(s_key, more: s => s.AddSingleton<IMeterFactory>(meterFactory));
        using MetricCollector<long> checks = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.FeedbackTagsInstrument);
        IReadOnlyDictionary<string, string> forged = EmailFeedbackTags.Write(new EmailSendAttribution { SendId = "x", TenantId = "rival", UserId = "u" });

        // Act
        await app.Feedback.RecordAsync(Bounce("evt-1", forged));
        await app.Feedback.RecordAsync(Bounce("evt-2", forged, "victim2@example.com"));

        // Assert
        forged.Should().NotContainKey(EmailFeedbackTags.SignatureTag, "an attribution the guard did not make is not signed");
        (await BouncesAsync(app, "rival")).Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "u")).Bounces.Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(2, "the account's rate is the provider's");
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com")).Should().NotBeNull();
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3162).Should().ContainSingle("logged once an hour at most")
            .Which.Message.Should().Contain("no signature");
        checks.GetMeasurementSnapshot().Select(m => ((string?)m.Tags["emailguard.feedback.provider"], (string?)m.Tags["emailguard.outcome"]))
            .Should().Equal(("ses", "unsigned"), ("ses", "unsigned"));
    }

    [Fact]
    public async Task SignatureCopiedFromAnotherMessage_DoesNotVerify()
    {
        // Arrange: the rogue's own mail is signed, and so is one of the rival's; neither signature fits a set naming the
        // rival that the rogue wrote.
        await using FeedbackTestApp app = App(s_key);
        IReadOnlyDictionary<string, string> rogues = await TagsOfAdmittedMailAsync(app, "rogue");
        IReadOnlyDictionary<string, string> rivals = await TagsOfAdmittedMailAsync(app, "rival");
        Dictionary<string, string> withRoguesSignature = new(rogues) { [EmailFeedbackTags.Prefix + "t"] = rivals[EmailFeedbackTags.Prefix + "t"] };
        Dictionary<string, string> withRivalsSignature = new(EmailFeedbackTags.Write(new EmailSendAttribution { SendId = "AAAAAAAAAAAAAAAA", TenantId = "rival" }))
        {
            [EmailFeedbackTags.SignatureTag] = rivals[EmailFeedbackTags.SignatureTag],
        };

        // Act
        await app.Feedback.RecordAsync(Bounce("evt-1", withRoguesSignature));
        await app.Feedback.RecordAsync(Bounce("evt-2", withRivalsSignature));

        // Assert
        (await BouncesAsync(app, "rival")).Should().Be(0);
        (await BouncesAsync(app, "rogue")).Should().Be(0, "a set changed after signing names no one, not even the signer's tenant");
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3162).Should().ContainSingle().Which.Message.Should().Contain("none of the keys");
    }

    [Theory]
    [InlineData("drop", "u")]
    [InlineData("drop", "c")]
    [InlineData("drop", "id")]
    [InlineData("add", "u")]
    [InlineData("add", "tp")]
    [InlineData("move", "u")]
    public async Task TagDroppedAddedOrMovedAfterSigning_NamesNoOne(string change, string name)
    {
        // Arrange: the rival's genuine tags (say, echoed in a header of its mail), changed. Dropping its user would spare a
        // user's breaker; adding one, or moving a value to another tag, charges someone the rival never sent for.
        await using FeedbackTestApp app = App(s_key);
        Dictionary<string, string> tags = new(await TagsOfAdmittedMailAsync(app, "rival", userId: name == "u" && change == "add" ? null : "rival-user"));
        string tag = EmailFeedbackTags.Prefix + name;
        switch (change)
        {
            case "drop": tags.Remove(tag).Should().BeTrue(); break;
            case "add": tags.Should().NotContainKey(tag); tags[tag] = "cm9ndWU"; break;
            default: tags[EmailFeedbackTags.Prefix + "c"] = tags[tag]; tags.Remove(tag); break;
        }

        // Act
        await app.Feedback.RecordAsync(Bounce("evt-1", tags));

        // Assert
        (await BouncesAsync(app, "rival")).Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task CaseGamesOnTheNames_ChargeNoOneTheTagsDidNotSign()
    {
        // Arrange: names are matched as written. A set that names the rival under EG_T beside the rogue's own signed
        // tags is the rogue's; one whose eg_t is gone and whose EG_T names the rival is no signed set at all; an
        // EG_SIG copied onto a forged set is no signature.
        await using FeedbackTestApp app = App(s_key);
        IReadOnlyDictionary<string, string> rogues = await TagsOfAdmittedMailAsync(app, "rogue");
        IReadOnlyDictionary<string, string> rivals = await TagsOfAdmittedMailAsync(app, "rival");
        string rival = rivals["eg_t"];
        Dictionary<string, string> beside = new(rogues) { ["EG_T"] = rival, ["eg_T"] = rival };
        Dictionary<string, string> instead = new(rogues) { ["Eg_t"] = rival };
        instead.Remove("eg_t");
        Dictionary<string, string> upperSignature = new(EmailFeedbackTags.Write(new EmailSendAttribution { TenantId = "rival" })) { ["EG_SIG"] = rivals[EmailFeedbackTags.SignatureTag] };
        Dictionary<string, string> foldedLookup = new(rogues, StringComparer.OrdinalIgnoreCase);
        foldedLookup.Remove("eg_t");
        foldedLookup["EG_T"] = rival;

        // Act
        await app.Feedback.RecordAsync(Bounce("evt-1", beside));
        await app.Feedback.RecordAsync(Bounce("evt-2", instead));
        await app.Feedback.RecordAsync(Bounce("evt-3", upperSignature));
        await app.Feedback.RecordAsync(Bounce("evt-4", foldedLookup));

        // Assert
        (await BouncesAsync(app, "rival")).Should().Be(0);
        (await BouncesAsync(app, "rogue")).Should().Be(1, "the rogue's own signed set, whatever lies beside it");
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(4);
    }

    [Fact]
    public async Task Rotation_TheOldKeyVerifiesWhileListed_AndNotOnceTakenOff()
    {
        // Arrange: mail signed before the rotation, under the old key.
        IReadOnlyDictionary<string, string> signedBefore;
        await using (FeedbackTestApp before = App(s_oldKey))
        {
            signedBefore = await TagsOfAdmittedMailAsync(before, "rival");
        }

        await using FeedbackTestApp during = App(s_key, s_oldKey);
        await using FeedbackTestApp after = App(s_key);
        await using FeedbackTestApp elsewhere = App(s_otherKey);

        // Act
        await during.Feedback.RecordAsync(Bounce("evt-1", signedBefore));
        await after.Feedback.RecordAsync(Bounce("evt-1", signedBefore));
        await elsewhere.Feedback.RecordAsync(Bounce("evt-1", signedBefore));
        IReadOnlyDictionary<string, string> signedDuring = await TagsOfAdmittedMailAsync(during, "rival");
        await after.Feedback.RecordAsync(Bounce("evt-2", signedDuring));

        // Assert
        (await BouncesAsync(during, "rival")).Should().Be(1, "the old key verifies while it is listed");
        (await BouncesAsync(after, "rival")).Should().Be(1, "the new key signs from the rotation on; the old one's mail names no one once it is gone");
        (await BouncesAsync(elsewhere, "rival")).Should().Be(0);
    }

    [Fact]
    public async Task SendIdAlone_NeedsNoSignature_AndIsNotLogged()
    {
        // What Postmark keeps of signed tags that do not fit its metadata: it names no party, and the mapping charges.
        await using FeedbackTestApp app = App(s_key);
        IReadOnlyDictionary<string, string> tags = await TagsOfAdmittedMailAsync(app, "rival", sender: "noreply@" + new string('s', 60) + ".example");
        IReadOnlyDictionary<string, string> postmark = EmailFeedbackTags.ToPostmarkMetadata(tags);

        EmailFeedbackResult result = await app.Feedback.RecordAsync(Bounce("evt-1", postmark));

        postmark.Keys.Should().Equal(EmailFeedbackTags.SendIdTag);
        result.Attribution.Should().BeNull("a send id alone names no party");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3162);
    }

    [Fact]
    public async Task WithoutKeys_TagsAreNeitherSignedNorChecked()
    {
        await using FeedbackTestApp app = new();
        IReadOnlyDictionary<string, string> tags = await TagsOfAdmittedMailAsync(app, "rival");

        await app.Feedback.RecordAsync(Bounce("evt-1", tags));
        await app.Feedback.RecordAsync(Bounce("evt-2", new Dictionary<string, string>(tags) { [EmailFeedbackTags.SignatureTag] = "not-a-signature" }));

        tags.Should().NotContainKey(EmailFeedbackTags.SignatureTag);
        (await BouncesAsync(app, "rival")).Should().Be(2, "as before signing existed");
    }

    [Fact]
    public async Task GuardedSender_SignsTheTagsItGivesTheTransport()
    {
        await using FeedbackTestApp app = App(s_key);
        EmailSendDecision decision = await app.Guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "rival" });

        using EmailSendContext context = EmailSendContext.Enter(decision.Attribution!);

        context.ProviderTags.Should().ContainKey(EmailFeedbackTags.SignatureTag);
        await app.Feedback.RecordAsync(Bounce("evt-1", context.ProviderTags));
        (await BouncesAsync(app, "rival")).Should().Be(1);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("not base64!", "not base64")]
    [InlineData("AAECAwQFBgcICQoLDA0ODw==", "16 bytes")]
    public void Options_AKeyNotOfBase64AndLength_FailsAtStart_NamingItsSettingNotItsValue(string key, string described)
    {
        EmailFeedbackOptions options = new();
        options.TagSigningKeys.Add(s_key);
        options.TagSigningKeys.Add(key);

        ValidateOptionsResult result = new EmailFeedbackOptionsValidator().Validate(null, options);

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain("EmailGuard:Feedback:TagSigningKeys:1 must be base64 of 32 to 64").And.Contain("it is " + described);
        result.FailureMessage.Should().NotContain(s_key);
        if (key.Length > 0)
        {
            result.FailureMessage.Should().NotContain(key);
        }
    }

    [Fact]
    public async Task Options_FromConfiguration_StopTheAppAtStart()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?> { ["EmailGuard:Feedback:TagSigningKeys:0"] = "c2hvcnQ=" });

        Action read = () => _ = app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value;

        read.Should().Throw<OptionsValidationException>().WithMessage("*EmailGuard:Feedback:TagSigningKeys:0*5 bytes*");
    }

    /// <summary>
    /// A key written as one value where a list is expected (an environment variable or a vault secret named
    /// <c>EmailGuard__Feedback__TagSigningKeys</c>), or spelt twice: the startup failure names the setting, never the key.
    /// Before, it quoted the value into the host's startup log.
    /// </summary>
    [Fact]
    public async Task Options_AKeyWrittenAsASingleValue_FailsAtStart_WithoutShowingTheKey()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?> { ["EmailGuard:Feedback:TagSigningKeys"] = s_key });

        Action read = () => _ = app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value;

        read.Should().Throw<OptionsValidationException>()
            .WithMessage("*EmailGuard:Feedback:TagSigningKeys*single value*")
            .Which.Message.Should().NotContain(s_key).And.NotContain(s_key[..16]);
    }

    /// <summary>
    /// A 64-byte key (88 characters) read from a secret file with its trailing newline, or as <c>openssl rand -base64
    /// 64</c> writes it (a line break after 64 characters), is that key. Before, it was refused as "64 bytes" long.
    /// </summary>
    [Theory]
    [InlineData("\n")]
    [InlineData("wrapped")]
    public void Options_A64ByteKeyWithLineBreaks_IsThatKey(string form)
    {
        string key = Convert.ToBase64String(Enumerable.Range(0, 64).Select(i => (byte)(i * 7)).ToArray());
        string written = form == "wrapped" ? key[..64] + "\n" + key[64..] + "\n" : key + "\n";
        EmailFeedbackOptions options = new();
        options.TagSigningKeys.Add(written);

        new EmailFeedbackOptionsValidator().Validate(null, options).Succeeded.Should().BeTrue();
        FeedbackTagSigner.TryDecodeKey(written).Should().Equal(Convert.FromBase64String(key));
    }

    /// <summary>
    /// The signature covers every tag the attribution is written in: the names are listed twice (what is written, what is
    /// signed), and a tag added to the one and not the other would travel unsigned and still be read.
    /// </summary>
    [Fact]
    public void EveryTagWritten_IsCoveredByTheSignature()
    {
        EmailSendAttribution everything = new()
        {
            SendId = "s1",
            TenantId = "acme",
            TenantPool = "trial",
            UserId = "u1",
            Sender = new string('a', 200) + "@example.com",
            Category = "share",
            ClientNetwork = "203.0.113.0/24",
            EndpointPolicy = "invite",
        };

        IEnumerable<string> written = EmailFeedbackTags.Compose(everything, signer: null).Keys;

        written.Should().BeEquivalentTo(FeedbackTagSigner.SignedNames.Select(name => EmailFeedbackTags.Prefix + name));
    }

    private static FeedbackTestApp App(params string[] keys) => App(keys, more: null);

    private static FeedbackTestApp App(string key, Action<IServiceCollection>? more) => App([key], more);

    private static FeedbackTestApp App(string[] keys, Action<IServiceCollection>? more) => new(
        o =>
        {
            foreach (string key in keys)
            {
                o.TagSigningKeys.Add(key);
            }
        },
        more: more);

    private static async Task<IReadOnlyDictionary<string, string>> TagsOfAdmittedMailAsync(FeedbackTestApp app, string tenant, string? userId = "rival-user", string sender = "noreply@app.example")
    {
        EmailSendDecision decision = await app.Guard.CheckAsync(new OutboundEmail
        {
            To = ["someone@example.com"],
            Sender = sender,
            TenantId = tenant,
            UserId = userId,
            Category = "share",
        });
        decision.IsAllowed.Should().BeTrue();
        return EmailFeedbackTags.Write(decision.Attribution!);
    }

    private static EmailFeedbackEvent Bounce(string id, IReadOnlyDictionary<string, string> tags, string recipient = "victim@example.com") => new()
    {
        Provider = "ses",
        ProviderEventId = id,
        Recipient = recipient,
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Permanent,
        Timestamp = SendGuardTestServices.Start,
        Tags = tags,
    };

    private static async Task<long> BouncesAsync(FeedbackTestApp app, string tenant)
        => (await app.Counts.GetAsync(EmailGuardDimension.Tenant, tenant)).Bounces;
}
