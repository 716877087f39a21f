namespace EmailGuard;

/// <summary>
/// The party screen: looks the parties of a message up in one state snapshot, before any counter moves. A blocklisted
/// or suspended party denies the message; allowlisted parties and flags shape the <see cref="GuardPlan"/> it goes on with.
/// </summary>
internal sealed class PartyScreen(SendGuardOptions options)
{
    /// <summary>Screens the tenant, the user, the sender and every distinct recipient and its domain.</summary>
    /// <returns>The party that denies the message, or null, and then <paramref name="plan"/> says what lists and flags decided.</returns>
    public PartyDenial? Screen(
        OutboundEmail message, GuardAddress[] recipients, int distinct, GuardAddress? sender, GuardStateSnapshot state, DateTimeOffset now, out GuardPlan plan)
    {
        plan = default;
        if (state.HasBlocks && FindBlocked(message, recipients, distinct, sender, state, now) is { } blocked)
        {
            return blocked;
        }

        string? tenant = message.TenantId;
        string? user = message.UserId;
        FlagEffect tenantFlag = FlagEffect.None;
        FlagEffect userFlag = FlagEffect.None;
        FlagEffect categoryFlag = FlagEffect.None;
        if (state.HasFlags)
        {
            tenantFlag = state.GetFlagEffect(EmailGuardPartyType.Tenant, tenant, now);
            if (tenantFlag.Suspension is { } tenantSuspension)
            {
                return new PartyDenial(EmailGuardDimension.Tenant, TenantPartition.Of(tenant!), null, null, tenantSuspension);
            }

            userFlag = state.GetFlagEffect(EmailGuardPartyType.User, user, now);
            if (userFlag.Suspension is { } userSuspension)
            {
                return new PartyDenial(EmailGuardDimension.User, user!, null, null, userSuspension);
            }

            // Categories are flagged in lower case (the account-wide ratio breaker tightens the risky ones).
            categoryFlag = state.GetFlagEffect(EmailGuardPartyType.Category, message.Category?.ToLowerInvariant(), now);
            if (categoryFlag.Suspension is { } categorySuspension)
            {
                return new PartyDenial(EmailGuardDimension.Category, message.Category!, null, null, categorySuspension);
            }
        }

        (EmailGuardDimension skip, EmailGuardDimension[]? recipientSkips) = state.HasAllows
            ? AllowlistSkips(message, recipients, distinct, sender, state, now)
            : (EmailGuardDimension.None, null);
        plan = new GuardPlan(skip, recipientSkips, tenantFlag.LimitFactor, userFlag.LimitFactor, categoryFlag.LimitFactor);
        return null;
    }

    private static PartyDenial? FindBlocked(OutboundEmail message, GuardAddress[] recipients, int distinct, GuardAddress? sender, GuardStateSnapshot state, DateTimeOffset now)
    {
        if (state.FindBlocked(EmailGuardPartyType.Tenant, message.TenantId, now) is { } tenantEntry)
        {
            return new PartyDenial(EmailGuardDimension.Tenant, TenantPartition.Of(message.TenantId!), null, tenantEntry, null);
        }

        if (state.FindBlocked(EmailGuardPartyType.User, message.UserId, now) is { } userEntry)
        {
            return new PartyDenial(EmailGuardDimension.User, message.UserId, null, userEntry, null);
        }

        if (sender is not null && state.FindBlocked(EmailGuardPartyType.Sender, sender.Address, now) is { } senderEntry)
        {
            return new PartyDenial(EmailGuardDimension.Sender, sender.Address, null, senderEntry, null);
        }

        for (int i = 0; i < distinct; i++)
        {
            GuardAddress recipient = recipients[i];
            if (state.FindBlocked(EmailGuardPartyType.Recipient, recipient.Address, now) is { } recipientEntry)
            {
                return new PartyDenial(EmailGuardDimension.Recipient, recipient.Address, recipient.Address, recipientEntry, null);
            }

            if (state.FindBlocked(EmailGuardPartyType.RecipientDomain, recipient.Domain, now) is { } domainEntry)
            {
                return new PartyDenial(EmailGuardDimension.RecipientDomain, recipient.Domain, recipient.Address, domainEntry, null);
            }

            if (state.HasCategoryRecipientBlocks && FindUnsubscribed(message, recipient, state, now) is { } unsubscribed)
            {
                return new PartyDenial(EmailGuardDimension.Recipient, recipient.Address, recipient.Address, unsubscribed, null);
            }
        }

        return null;
    }

    private (EmailGuardDimension Skip, EmailGuardDimension[]? RecipientSkips) AllowlistSkips(
        OutboundEmail message, GuardAddress[] recipients, int distinct, GuardAddress? sender, GuardStateSnapshot state, DateTimeOffset now)
    {
        AllowlistSkipOptions allowlist = options.Allowlist;
        EmailGuardDimension skip = EmailGuardDimension.None;
        if (state.FindAllowed(EmailGuardPartyType.Tenant, message.TenantId, now) is not null)
        {
            skip |= allowlist.Tenant;
        }

        if (state.FindAllowed(EmailGuardPartyType.User, message.UserId, now) is not null)
        {
            skip |= allowlist.User;
        }

        if (sender is not null && state.FindAllowed(EmailGuardPartyType.Sender, sender.Address, now) is not null)
        {
            skip |= allowlist.Sender;
        }

        EmailGuardDimension[]? recipientSkips = null;
        EmailGuardDimension common = EmailGuardDimension.All;
        for (int i = 0; i < distinct; i++)
        {
            EmailGuardDimension own = skip;
            if (state.FindAllowed(EmailGuardPartyType.Recipient, recipients[i].Address, now) is not null)
            {
                own |= allowlist.Recipient;
            }

            if (state.FindAllowed(EmailGuardPartyType.RecipientDomain, recipients[i].Domain, now) is not null)
            {
                own |= allowlist.RecipientDomain;
            }

            if (own != EmailGuardDimension.None)
            {
                recipientSkips ??= new EmailGuardDimension[distinct];
                recipientSkips[i] = own;
            }

            common &= own;
        }

        // Message-wide dimensions are skipped for recipients' sake only when every recipient skips them.
        const EmailGuardDimension perRecipient = EmailGuardDimension.Recipient | EmailGuardDimension.RecipientDomain;
        skip |= common & ~perRecipient;
        return (skip, recipientSkips);
    }

    /// <summary>The entry that suppresses <paramref name="recipient"/> for the message's category (an unsubscribe), if any.</summary>
    private static EmailGuardListEntry? FindUnsubscribed(OutboundEmail message, GuardAddress recipient, GuardStateSnapshot state, DateTimeOffset now)
        => message.Category is { } category
            ? state.FindBlocked(EmailGuardPartyType.CategoryRecipient, GuardPartyValues.CategoryRecipient(category, recipient.Address), now)
            : null;
}
