using System.Collections.Concurrent;
using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Content;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// The near-duplicate fingerprint on every store: the purchase-order attacker rewrites his note per copy, which the
/// exact fingerprint lets through and the band keys stop, atomically with the other dimensions.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    /// <summary>
    /// The share template for supplier <paramref name="i"/> with the attacker's note rewritten for this copy: synonym
    /// swaps, reordered sentences, an inserted sentence, changed words and homoglyphs in turn.
    /// </summary>
    private static OutboundEmail RewrittenShare(int i, Random random, RewriteKind? kind = null) => new()
    {
        To = [string.Create(CultureInfo.InvariantCulture, $"sales@supplier{i}.example")],
        TenantId = "trial-4711",
        UserId = "mallory",
        Content = new EmailContent
        {
            Subject = string.Create(CultureInfo.InvariantCulture, $"Purchase order PO-{40_000 + (i * 7)} shared with you"),
            TextBody = string.Create(CultureInfo.InvariantCulture, $"""
                Dear {s_names[i % s_names.Length]},

                Trial Corp shared purchase order PO-{40_000 + (i * 7)} ({i * 3 + 1} items) with you.
                Note from the buyer: {AttackerRewrites.Rewrite(AttackerRewrites.PurchaseOrderNote, kind ?? (RewriteKind)(i % 5), random)}
                View the order: https://app.example.com/po/{40_000 + (i * 7)}?sid={i * 7919}
                """),
        },
    };

    [Fact]
    public async Task NearDuplicate_FortyRewrittenCopiesToFortySuppliers_ExactFingerprintLetsAllThrough()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Content.Add(RateLimitRule.PerHour(10));
        });
        Random random = new(40);

        int allowed = 0;
        for (int i = 0; i < 40; i++)
        {
            allowed += (await h.Guard.CheckAsync(RewrittenShare(i, random))).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(40, "every rewritten copy is a new exact fingerprint");
    }

    [Fact]
    public async Task NearDuplicate_FortyRewrittenCopiesToFortySuppliers_AreStoppedAtTheContentLimitAndTheUserIsFlagged()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Content.Add(RateLimitRule.PerHour(10));
            o.NearDuplicate.Enabled = true;
            o.BulkContent.Trips = 3;
        });
        Random random = new(40);

        List<int> admitted = [];
        EmailSendDecision? firstDenial = null;
        for (int i = 0; i < 40; i++)
        {
            EmailSendDecision decision = await h.Guard.CheckAsync(RewrittenShare(i, random));
            if (decision.IsAllowed)
            {
                admitted.Add(i);
            }
            else
            {
                firstDenial ??= decision;
            }
        }

        // Measured (the copies are seeded, so every store sees the same ones): the first ten fill the band counters of
        // the note; 6 later copies were rewritten enough to miss all four bands; 24 are stopped.
        admitted.Should().Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 32, 33]);
        firstDenial!.Value.Reason.Should().Be(EmailSendReason.LimitExceeded);
        firstDenial.Value.Dimension.Should().Be(EmailGuardDimension.Content);
        firstDenial.Value.Partition.Should().MatchRegex("^nd[0-3]:[A-Za-z0-9_-]{22}$", "the partition is a band and its hash, never the text");
        (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "trial-4711" }, EmailGuardDimension.Tenant)).Should().Be(16, "a denied copy takes nothing from the tenant cap");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().ContainSingle().Which.Reason.Should().Be(EmailGuardFlagReasons.BulkContent);
    }

    [Fact]
    public async Task NearDuplicate_DenialByTheTenantCap_TakesNothingFromTheBandCounters()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(3));
            o.Content.Add(RateLimitRule.PerHour(4));
            o.NearDuplicate.Enabled = true;
        });
        Random random = new(7);
        for (int i = 0; i < 3; i++)
        {
            (await h.Guard.CheckAsync(RewrittenShare(i, random, RewriteKind.Homoglyphs))).IsAllowed.Should().BeTrue();
        }

        EmailSendDecision byTenant = await h.Guard.CheckAsync(RewrittenShare(3, random, RewriteKind.Homoglyphs));
        OutboundEmail otherTenant = RewrittenShare(4, random, RewriteKind.Homoglyphs);
        EmailSendDecision fourth = await h.Guard.CheckAsync(new OutboundEmail { To = otherTenant.To, TenantId = "acme", Content = otherTenant.Content });
        OutboundEmail fifthCopy = RewrittenShare(5, random, RewriteKind.Homoglyphs);
        EmailSendDecision fifth = await h.Guard.CheckAsync(new OutboundEmail { To = fifthCopy.To, TenantId = "acme", Content = fifthCopy.Content });

        byTenant.Dimension.Should().Be(EmailGuardDimension.Tenant);
        fourth.IsAllowed.Should().BeTrue("the copy the tenant cap denied took no band permit, so this is the fourth");
        fifth.Dimension.Should().Be(EmailGuardDimension.Content, "homoglyph copies fold to one text: the fifth copy is over the limit of 4 on another tenant too");
    }

    [Fact]
    public async Task NearDuplicate_ConcurrentInstancesSharingOneStore_AdmitExactlyTheLimit()
    {
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(3, o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(10_000));
            o.Content.Add(RateLimitRule.PerHour(25));
            o.NearDuplicate.Enabled = true;
        });
        Random random = new(11);
        OutboundEmail[] copies = [.. Enumerable.Range(0, 120).Select(i => RewrittenShare(i, random, RewriteKind.Homoglyphs))];
        copies.Select(c => c.Content!.TextBody).Distinct().Should().HaveCount(120, "each copy is its own exact text");
        ConcurrentBag<int> admitted = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, copies.Length), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            if ((await instances[i % instances.Count].Guard.CheckAsync(copies[i], ct)).IsAllowed)
            {
                admitted.Add(i);
            }
        });

        admitted.Should().HaveCount(25);
        (await instances[0].CountAsync(new EmailGuardStatusQuery { TenantId = "trial-4711" }, EmailGuardDimension.Tenant)).Should().Be(25);
    }

    [Fact]
    public async Task NearDuplicate_Off_CountsNoBandKeys()
    {
        SendGuardHarness h = Create(o => o.Content.Add(RateLimitRule.PerHour(10)));

        EmailSendDecision decision = await h.Guard.CheckAsync(RewrittenShare(0, new Random(1)));

        decision.Usage.ToArray().Count(u => u.Dimension == EmailGuardDimension.Content).Should().Be(1, "the exact fingerprint only");
    }

    [Fact]
    public async Task NearDuplicate_On_CountsTheFingerprintAndEveryBandPerRule()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Content.Add(RateLimitRule.PerHour(10)).Add(RateLimitRule.PerDay(100));
            o.NearDuplicate.Enabled = true;
            o.NearDuplicate.Bands = 3;
        });

        EmailSendDecision decision = await h.Guard.CheckAsync(RewrittenShare(0, new Random(1)));

        decision.IsAllowed.Should().BeTrue();
        decision.Usage.ToArray().Where(u => u.Dimension == EmailGuardDimension.Content).Should().HaveCount(8, "(1 fingerprint + 3 bands) x 2 rules");
    }
}
