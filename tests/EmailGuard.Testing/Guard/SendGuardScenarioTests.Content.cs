using System.Collections.Concurrent;
using System.Globalization;
using EmailGuard;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>The content dimension on every store: one text to many recipients, atomically with the other dimensions.</summary>
public abstract partial class SendGuardScenarioTests
{
    private static readonly string[] s_names = ["Anna Smith", "Jonas Müller", "Mei Nakamura", "Carlos García", "Priya Raman", "Sven Andersson"];

    /// <summary>The purchase-order incident's template, filled in for supplier <paramref name="i"/>, with the attacker's text.</summary>
    protected static EmailContent PurchaseOrderShare(int i) => new()
    {
        Subject = string.Create(CultureInfo.InvariantCulture, $"Purchase order PO-{40_000 + (i * 7)} shared with you"),
        TextBody = string.Create(CultureInfo.InvariantCulture, $"""
            Dear {s_names[i % s_names.Length]},

            Trial Corp shared purchase order PO-{40_000 + (i * 7)} ({i * 3 + 1} items, EUR {i * 131 % 5000}.00) with you.
            Note from the buyer: our bank details changed, verify your account at http://vendor-verify.example/login?ref={i}
            View the order: https://app.example.com/po/{40_000 + (i * 7)}?utm_source=share&sid={Guid.NewGuid():N}
            """),
    };

    private static OutboundEmail Shared(int i, string? tenant = "trial-4711", string? user = "mallory", params string[] to)
        => new() { To = to.Length == 0 ? [string.Create(CultureInfo.InvariantCulture, $"sales@supplier{i}.example")] : to, TenantId = tenant, UserId = user, Content = PurchaseOrderShare(i) };

    [Fact]
    public async Task Content_OneTemplateFilledPerRecipient_ExactlyTheLimitGoesOutThenTheWindowResets()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Content.Add(RateLimitRule.PerHour(50));
        });

        int allowed = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 60; i++)
        {
            last = await h.Guard.CheckAsync(Shared(i));
            allowed += last.IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(50);
        last.Reason.Should().Be(EmailSendReason.LimitExceeded);
        last.Dimension.Should().Be(EmailGuardDimension.Content);
        last.Partition.Should().HaveLength(22, "the partition is the fingerprint, never the text").And.NotContain("supplier");
        last.RetryAfter.Should().BePositive();

        h.Time.Advance(TimeSpan.FromHours(1));
        (await h.Guard.CheckAsync(Shared(61))).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Content_CostsOnePerRecipient()
    {
        SendGuardHarness h = Create(o => o.Content.Add(RateLimitRule.PerHour(50)));
        string[] Recipients(int from, int count) => [.. Enumerable.Range(from, count).Select(r => string.Create(CultureInfo.InvariantCulture, $"buyer{r}@supplier.example"))];

        (await h.Guard.CheckAsync(Shared(1, to: Recipients(0, 30)))).IsAllowed.Should().BeTrue();
        EmailSendDecision tooMany = await h.Guard.CheckAsync(Shared(2, to: Recipients(30, 30)));
        (await h.Guard.CheckAsync(Shared(3, to: Recipients(60, 20)))).IsAllowed.Should().BeTrue();
        EmailSendDecision full = await h.Guard.CheckAsync(Shared(4, to: Recipients(80, 1)));

        tooMany.Dimension.Should().Be(EmailGuardDimension.Content);
        full.Dimension.Should().Be(EmailGuardDimension.Content);
        full.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Content).Count.Should().Be(50);
    }

    [Fact]
    public async Task Content_DenialByContentTakesNothingFromTheTenantCap()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.Content.Add(RateLimitRule.PerHour(5));
        });
        for (int i = 0; i < 5; i++)
        {
            (await h.Guard.CheckAsync(Shared(i))).IsAllowed.Should().BeTrue();
        }

        EmailSendDecision denied = await h.Guard.CheckAsync(Shared(5));
        EmailSendDecision other = await h.Guard.CheckAsync(new OutboundEmail
        {
            To = ["ops@partner.example"],
            TenantId = "trial-4711",
            Content = new EmailContent { Subject = "Weekly report", TextBody = "The numbers for this week are attached." },
        });

        denied.Dimension.Should().Be(EmailGuardDimension.Content);
        denied.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Tenant).Count.Should().Be(5);
        other.IsAllowed.Should().BeTrue();
        other.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Tenant).Count.Should().Be(6);
        (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "trial-4711" }, EmailGuardDimension.Tenant)).Should().Be(6);
    }

    [Fact]
    public async Task Content_DenialByTheTenantCapTakesNothingFromTheContentRule()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(3));
            o.Content.Add(RateLimitRule.PerDay(10));
        });
        EmailContent other = new() { Subject = "Weekly report", TextBody = "The numbers for this week are attached." };
        for (int i = 0; i < 3; i++)
        {
            (await h.Guard.CheckAsync(Shared(i))).IsAllowed.Should().BeTrue();
        }

        EmailSendDecision denied = await h.Guard.CheckAsync(new OutboundEmail { To = ["ops@partner.example"], TenantId = "trial-4711", Content = other });
        h.Time.Advance(TimeSpan.FromHours(1));
        EmailSendDecision next = await h.Guard.CheckAsync(new OutboundEmail { To = ["ops@partner.example"], TenantId = "trial-4711", Content = other });

        denied.Dimension.Should().Be(EmailGuardDimension.Tenant);
        denied.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Content).Count.Should().Be(0);
        next.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Content).Count.Should().Be(1, "the denied message took no content permit");
    }

    [Fact]
    public async Task Content_MessageWithoutContent_HasNoContentDimension()
    {
        SendGuardHarness h = Create(o => o.Content.Add(RateLimitRule.PerHour(1)));

        EmailSendDecision first = await h.Guard.CheckAsync(Mail("a@example.com"));
        EmailSendDecision second = await h.Guard.CheckAsync(Mail("b@example.com"));

        first.IsAllowed.Should().BeTrue();
        second.IsAllowed.Should().BeTrue();
        second.Usage.ToArray().Should().NotContain(u => u.Dimension == EmailGuardDimension.Content);
    }

    [Fact]
    public async Task Content_ExemptCategory_IsNotCountedButOthersAre()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Content.Add(RateLimitRule.PerHour(2));
            o.ContentExemptCategories.Add("signup");
        });
        EmailContent confirmation = new() { Subject = "Confirm your address", TextBody = "Hi Anna,\nconfirm at https://app.example/confirm?token=1" };

        for (int i = 0; i < 5; i++)
        {
            (await h.Guard.CheckAsync(new OutboundEmail { To = [$"user{i}@example.com"], Category = "SignUp", Content = confirmation })).IsAllowed.Should().BeTrue();
        }

        (await h.Guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], Category = "share", Content = confirmation })).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], Content = confirmation })).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], Category = "share", Content = confirmation })).Dimension.Should().Be(EmailGuardDimension.Content);
    }

    [Fact]
    public async Task Content_AttackerVariesCaseLayoutGreetingsNumbersTrackingAndMarkup_StillOneCounter()
    {
        SendGuardHarness h = Create(o => o.Content.Add(RateLimitRule.PerHour(10)));
        const string Pitch = "Your supplier account is suspended. Verify your bank details at https://vendor-verify.example/login";
        string[] greetings = ["Hi {0},", "Dear {0}:", "Hello {0}!", "Good morning {0},", "Hey,"];
        int allowed = 0;
        for (int i = 0; i < 40; i++)
        {
            string name = s_names[i % s_names.Length];
            string greeting = string.Format(CultureInfo.InvariantCulture, greetings[i % greetings.Length], name);
            string pitch = (i % 3) switch { 0 => Pitch.ToUpperInvariant(), 1 => Pitch.Replace(" ", "  \n ", StringComparison.Ordinal), _ => Pitch.Replace("supplier", "sup\u200Bplier", StringComparison.Ordinal) };
            string text = string.Create(CultureInfo.InvariantCulture, $"{greeting}\n{pitch}?id={i * 7919}&utm_campaign=c{i}#t{i}\nCase {i:0000}-{i * 31}.");
            EmailContent content = (i % 2) == 0
                ? new EmailContent { Subject = string.Create(CultureInfo.InvariantCulture, $"Action required #{i}"), TextBody = text }
                : new EmailContent { Subject = string.Create(CultureInfo.InvariantCulture, $"ACTION   REQUIRED {i}"), HtmlBody = "<html><body><div style=\"x\"><p>" + text.Replace("\n", "<br/>", StringComparison.Ordinal) + "</p></div></body></html>" };
            allowed += (await h.Guard.CheckAsync(new OutboundEmail { To = [$"victim{i}@example.com"], Content = content })).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(10);
    }

    [Fact]
    public async Task Content_ConcurrentInstancesSharingOneStore_AdmitExactlyTheLimit()
    {
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(3, o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(10_000));
            o.Content.Add(RateLimitRule.PerHour(40));
        });
        ConcurrentBag<int> admitted = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, 150), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            if ((await instances[i % instances.Count].Guard.CheckAsync(Shared(i), ct)).IsAllowed)
            {
                admitted.Add(i);
            }
        });

        admitted.Should().HaveCount(40);
        (await instances[0].CountAsync(new EmailGuardStatusQuery { TenantId = "trial-4711" }, EmailGuardDimension.Tenant)).Should().Be(40);
    }

    [Fact]
    public async Task BulkContent_RepeatedContentDenials_FlagUserAndTenantAndReduceTheirLimits()
    {
        SendGuardHarness h = Create(o =>
        {
            o.User.Add(RateLimitRule.PerHour(100));
            o.Content.Add(RateLimitRule.PerHour(2));
            o.BulkContent.Trips = 3;
        });
        for (int i = 0; i < 4; i++)
        {
            await h.Guard.CheckAsync(Shared(i));
        }

        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().BeEmpty("two trips are below the threshold");
        EmailSendDecision third = await h.Guard.CheckAsync(Shared(4));
        await h.Guard.CheckAsync(Shared(5));

        third.Dimension.Should().Be(EmailGuardDimension.Content);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().ContainSingle().Which.Reason.Should().Be(EmailGuardFlagReasons.BulkContent);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial-4711")).Should().ContainSingle().Which.Reason.Should().Be(EmailGuardFlagReasons.BulkContent);
        (await h.Flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyType = EmailGuardPartyType.User, PartyId = "mallory" })).Should().ContainSingle("later trips in the window flag nothing more");

        // The user's limit is now a tenth: 2 of the 10 are used, so 8 other messages go out and the 9th is denied.
        int allowed = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 9; i++)
        {
            last = await h.Guard.CheckAsync(new OutboundEmail
            {
                To = [$"colleague{i}@trial.example"],
                UserId = "mallory",
                Content = new EmailContent { Subject = $"Note {i}", TextBody = $"Topic {(char)('a' + i)} for the {(char)('k' + i)} team" },
            });
            allowed += last.IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(8);
        last.Dimension.Should().Be(EmailGuardDimension.User);
    }
}
