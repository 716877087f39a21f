namespace EmailGuard;

/// <summary>
/// Whose content denial it is. The content rules count a text across every party, so a text's counter can be filled
/// by someone else's copies; a denial is a <see cref="EmailGuardFlagReasons.BulkContent"/> trip of the user or tenant
/// only when the party's own copies of a denying key (the fingerprint or a band) under the denying rule, plus this
/// message's cost, exceed that rule's limit: when the party alone would have been denied.
/// </summary>
/// <remarks>
/// The own copies are counters taken in the same atomic acquire as the content rules (see
/// <see cref="SendGuardRules.ContentOwnCopies"/>), right after each content request, so a denial's entries hold them,
/// unchanged by the denied message, with no store call of their own. An entry a store could not fill reads as 0 copies:
/// then only a message that exceeds the limit by itself is a trip.
/// </remarks>
internal static class ContentOwnCopies
{
    /// <summary>The parties whose own copies alone exceed a content rule that denied: <see cref="EmailGuardDimension.User"/>, <see cref="EmailGuardDimension.Tenant"/>, both or none.</summary>
    /// <param name="usage">The usage of a content denial.</param>
    /// <returns>The parties the denial is a trip for.</returns>
    public static EmailGuardDimension Tripped(in GuardUsage usage)
    {
        EmailGuardDimension tripped = EmailGuardDimension.None;
        int count = usage.Length;
        for (int i = 0; i < count; i++)
        {
            RequestTag tag = usage.GetTag(i);
            if (tag.Dimension != EmailGuardDimension.Content || tag.OwnCopiesOf != EmailGuardDimension.None || usage.GetEntry(i).IsAllowed)
            {
                continue;
            }

            RateLimitRequest denying = usage.GetRequest(i);
            for (int j = i + 1; j < count && usage.GetTag(j).OwnCopiesOf is not EmailGuardDimension.None and EmailGuardDimension party; j++)
            {
                if (usage.GetEntry(j).Count + denying.Cost > denying.Rule.Limit)
                {
                    tripped |= party;
                }
            }
        }

        return tripped;
    }
}
