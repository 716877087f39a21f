using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Fails startup when the largest message the options allow would need more counters than one atomic store call takes
/// (<see cref="RateLimitValidation.MaxRequestsPerCall"/>): every message-wide rule once, and every recipient and
/// recipient-domain rule once per recipient. Without it such a message made <c>CheckAsync</c> throw.
/// </summary>
internal sealed class SendGuardCapacityValidator : IValidateOptions<SendGuardOptions>
{
    private const string Root = "EmailGuard:SendGuard";

    public ValidateOptionsResult Validate(string? name, SendGuardOptions options)
    {
        if (Count(options.Recipient) is not { } recipientRules || Count(options.RecipientDomain) is not { } domainRules
            || MessageWideRules(options) is not { } messageWide)
        {
            // Null lists are reported by SendGuardOptionsValidator.
            return ValidateOptionsResult.Skip;
        }

        int perRecipient = recipientRules + domainRules;
        long needed = messageWide.Count + ((long)options.MaxRecipientsPerMessage * perRecipient);
        if (needed <= RateLimitValidation.MaxRequestsPerCall)
        {
            return ValidateOptionsResult.Success;
        }

        long fitting = perRecipient == 0 ? 0 : Math.Max(0, (RateLimitValidation.MaxRequestsPerCall - messageWide.Count) / perRecipient);
        return ValidateOptionsResult.Fail(string.Create(CultureInfo.InvariantCulture,
            $"{Root}:MaxRecipientsPerMessage ({options.MaxRecipientsPerMessage}) x ({recipientRules} {Root}:Recipient:Rules + {domainRules} {Root}:RecipientDomain:Rules) "
            + $"+ {messageWide.Count} message-wide rules ({messageWide.Detail}) = {needed} counters for the largest message, more than the {RateLimitValidation.MaxRequestsPerCall} one check can take. "
            + $"Lower MaxRecipientsPerMessage to at most {fitting}, or use fewer rules."));
    }

    private static int? Count(SendGuardDimensionOptions? dimension) => dimension?.Rules?.Count;

    private static (int Count, string Detail)? MessageWideRules(SendGuardOptions options)
    {
        (string Name, int? Count)[] dimensions =
        [
            ("Global", Count(options.Global)), ("Tenant", Count(options.Tenant)), ("Sender", Count(options.Sender)),
            ("User", Count(options.User)), ("ClientIp", Count(options.ClientIp)), ("Category", LargestCategory(options)),
            ("TenantPool", LargestTenantPool(options)),
            ("Content", Count(options.Content)), ("NearDuplicate", NearDuplicateRequests(options)),
            ("ContentOwnCopies", ContentOwnCopiesRequests(options)), ("FairShare", FairShareRequests(options)),
        ];
        if (dimensions.Any(d => d.Count is null))
        {
            return null;
        }

        // A message has one category and its tenant one pool, so only the category and the pool with the most rules count.
        return (dimensions.Sum(d => d.Count!.Value), string.Join(", ", dimensions.Where(d => d.Count > 0).Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Name} {d.Count}"))));
    }

    // One counter per band and content rule, besides the exact fingerprint's.
    private static int? NearDuplicateRequests(SendGuardOptions options)
        => options.NearDuplicate is not { Enabled: true } nearDuplicate ? 0 : nearDuplicate.Bands * Count(options.Content);

    // With bulk_content trips on, a user's and a tenant's own copies of every content key (fingerprint and bands), per content rule.
    private static int? ContentOwnCopiesRequests(SendGuardOptions options)
        => options.BulkContent is not { Trips: > 0 } || Count(options.Content) is not { } content ? 0 : 2 * (content + (NearDuplicateRequests(options) ?? 0));

    // A tenant's share and the default-weight tenants' pool share, per shared global rule.
    private static int? FairShareRequests(SendGuardOptions options)
        => options.FairShare is not { Enabled: true } ? 0 : 2 * (options.Global?.Rules?.Count(r => r is not null && r.Algorithm != RateLimitAlgorithm.TokenBucket) ?? 0);

    private static int? LargestTenantPool(SendGuardOptions options)
    {
        if (options.TenantPools is null)
        {
            return null;
        }

        int largest = 0;
        foreach (SendGuardDimensionOptions? pool in options.TenantPools.Values)
        {
            largest = Math.Max(largest, Count(pool) ?? 0);
        }

        return largest;
    }

    private static int? LargestCategory(SendGuardOptions options)
    {
        if (Count(options.Category) is not { } largest || options.Categories is null)
        {
            return null;
        }

        foreach (SendGuardDimensionOptions? category in options.Categories.Values)
        {
            largest = Math.Max(largest, Count(category) ?? 0);
        }

        return largest;
    }
}
