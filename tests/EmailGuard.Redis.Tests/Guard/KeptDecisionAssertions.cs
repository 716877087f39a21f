namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// What the pooled-state tests require of the decisions they kept, and of Redis afterwards. A decision built from
/// another check's pooled state (its buffers handed back too early, or a late reply written into them) shows another
/// message's recipients, tenant, cost or counts; a give-back missed or made twice leaves a counter off by its cost.
/// </summary>
internal static class KeptDecisionAssertions
{
    /// <summary>
    /// Each decision Redis admitted shows its own message's parties, each of its recipients counted once, its own cost,
    /// and a reservation its category's bucket; each denial names one of its own parties. When no refund ran meanwhile
    /// (<paramref name="countsOnlyGrew"/>), each saw a global and a tenant count no other decision saw, and each
    /// reservation that waits for the bucket a time no other reservation was given.
    /// </summary>
    public static void EachShowsItsOwnAnswer(IEnumerable<KeptDecision> kept, bool countsOnlyGrew, string? reservationCategory = null)
    {
        List<long> globalCounts = [];
        Dictionary<string, List<long>> tenantCounts = [];
        List<DateTimeOffset> reservedAhead = [];
        foreach (KeptDecision k in kept.Where(k => !k.Cancelled))
        {
            EmailSendDecision decision = k.Decision;
            if (decision.Reason == EmailSendReason.LimitExceeded)
            {
                DenialNamesItsOwnParty(k, reservationCategory);
                continue;
            }

            if (!k.AdmittedByRedis)
            {
                continue;
            }

            EmailSendRuleUsage[] usage = decision.Usage.ToArray();
            usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => (u.Partition, u.Count, u.Cost))
                .Should().BeEquivalentTo(k.Message.To.Select(to => ((string?)to, 1L, 1L)), "{0} shows its own recipients, each counted once", k);
            usage.Where(u => u.Dimension == EmailGuardDimension.RecipientDomain).Select(u => (u.Partition, u.Cost))
                .Should().BeEquivalentTo(k.Message.To.Select(Domain).Distinct().Select(d => ((string?)d, 1L)), "{0} shows its own domains", k);
            EmailSendRuleUsage tenant = usage.Single(u => u.Dimension == EmailGuardDimension.Tenant);
            tenant.Partition.Should().Be(k.Message.TenantId, "{0}", k);
            tenant.Cost.Should().Be(k.Cost, "{0}", k);
            EmailSendRuleUsage global = usage.Single(u => u.Dimension == EmailGuardDimension.Global);
            global.Cost.Should().Be(k.Cost, "{0}", k);
            EmailSendRuleUsage[] category = [.. usage.Where(u => u.Dimension == EmailGuardDimension.Category)];
            if (k.Reserved && reservationCategory is not null)
            {
                category.Select(u => (u.Partition, u.Cost)).Should().Equal([(reservationCategory, (long)k.Cost)], "{0} waits for its category's bucket", k);
                decision.Timestamp.Should().BeOnOrAfter(decision.Acquisition.DecidedAt, "{0} is sent when its slot comes", k);
                if (decision.Timestamp > decision.Acquisition.DecidedAt)
                {
                    reservedAhead.Add(decision.Timestamp);
                }
            }
            else
            {
                category.Should().BeEmpty("{0} has no category", k);
            }

            globalCounts.Add(global.Count);
            (tenantCounts.TryGetValue(tenant.Partition!, out List<long>? counts) ? counts : tenantCounts[tenant.Partition!] = []).Add(tenant.Count);
        }

        if (!countsOnlyGrew)
        {
            return;
        }

        // Every admission moved the global counter and its tenant's: no two decisions can have seen the same count. And
        // each reservation that waits moved the bucket on by at least its cost's interval (1 ms a permit): no two were
        // given the same time.
        globalCounts.Should().OnlyHaveUniqueItems("each admission saw the global counter after its own permits");
        foreach ((string tenant, List<long> counts) in tenantCounts)
        {
            counts.Should().OnlyHaveUniqueItems("each admission saw tenant {0}'s counter after its own permits", tenant);
        }

        reservedAhead.Should().OnlyHaveUniqueItems("each reservation that waits holds a slot of its own");
    }

    /// <summary>
    /// Redis holds exactly what the callers were told was admitted and not refunded: every kept message's recipients and
    /// domains, every tenant, and the global counter, read through the guard's status.
    /// </summary>
    public static async Task RedisHoldsExactlyAsync(IEmailSendGuard guard, IReadOnlyCollection<KeptDecision> kept, IReadOnlySet<KeptDecision> refunded)
    {
        KeptDecision[] held = [.. kept.Where(k => k.Charged && !refunded.Contains(k))];
        Dictionary<string, long> domains = held.SelectMany(k => k.Message.To.Select(Domain).Distinct()).GroupBy(d => d).ToDictionary(g => g.Key, g => (long)g.Count());
        Dictionary<string, long> tenants = held.GroupBy(k => k.Message.TenantId!).ToDictionary(g => g.Key, g => g.Sum(k => (long)k.Cost));
        HashSet<string> heldRecipients = [.. held.SelectMany(k => k.Message.To)];
        foreach (KeptDecision k in kept)
        {
            string state = refunded.Contains(k) ? "refunded" : "kept";
            foreach (string to in k.Message.To)
            {
                EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { Recipient = to });
                status.IsStoreAvailable.Should().BeTrue();
                status.Usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => u.Count).Should()
                    .Equal([heldRecipients.Contains(to) ? 1L : 0L], "{0} was {1}", k, state);
                status.Usage.Where(u => u.Dimension == EmailGuardDimension.RecipientDomain).Select(u => u.Count).Should()
                    .Equal([domains.GetValueOrDefault(Domain(to))], "domain {0} holds one permit for each held message to it", Domain(to));
            }
        }

        foreach (string tenant in kept.Select(k => k.Message.TenantId!).Distinct())
        {
            EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = tenant });
            status.Usage.Where(u => u.Dimension == EmailGuardDimension.Tenant).Select(u => u.Count).Should()
                .Equal([tenants.GetValueOrDefault(tenant)], "tenant {0} holds the cost of each held message of its own", tenant);
        }

        EmailGuardStatus all = await guard.GetStatusAsync(new EmailGuardStatusQuery());
        all.Usage.Where(u => u.Dimension == EmailGuardDimension.Global).Select(u => u.Count).Should()
            .Equal([held.Sum(k => (long)k.Cost)], "the global counter holds the cost of every held message");
    }

    private static string Domain(string address) => address[(address.IndexOf('@', StringComparison.Ordinal) + 1)..];

    private static void DenialNamesItsOwnParty(KeptDecision k, string? reservationCategory)
    {
        EmailSendDecision decision = k.Decision;
        switch (decision.Dimension)
        {
            case EmailGuardDimension.Category:
                k.Reserved.Should().BeTrue("only reservations carry a category: {0}", k);
                decision.Partition.Should().Be(reservationCategory, "{0}", k);
                break;
            case EmailGuardDimension.Recipient:
                k.Message.To.Should().Contain(decision.Recipient, "{0} names one of its own recipients", k);
                break;
            case EmailGuardDimension.Tenant:
                decision.Partition.Should().Be(k.Message.TenantId, "{0}", k);
                break;
            default:
                decision.Dimension.Should().Be(EmailGuardDimension.Category, "no other dimension can deny here: {0}", k);
                break;
        }
    }
}
