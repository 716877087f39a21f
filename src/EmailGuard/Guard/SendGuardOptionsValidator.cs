using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Checks every rule of every dimension at startup, with messages that name the configuration setting
/// (<c>EmailGuard:SendGuard:Tenant:Rules:0:Limit</c>), so a zero limit fails the app at start rather than at the first email.
/// </summary>
internal sealed class SendGuardOptionsValidator : IValidateOptions<SendGuardOptions>
{
    private const string Root = "EmailGuard:SendGuard";

    public ValidateOptionsResult Validate(string? name, SendGuardOptions options)
    {
        List<string> failures = [];
        CheckDimension(failures, "Global", options.Global);
        CheckDimension(failures, "Tenant", options.Tenant);
        CheckDimension(failures, "Sender", options.Sender);
        CheckDimension(failures, "Recipient", options.Recipient);
        CheckDimension(failures, "RecipientDomain", options.RecipientDomain);
        CheckDimension(failures, "User", options.User);
        CheckDimension(failures, "ClientIp", options.ClientIp);
        CheckDimension(failures, "Category", options.Category);
        CheckDimension(failures, "Content", options.Content);
        ContentOptionsValidation.Check(failures, $"{Root}:ContentExemptCategories", options.ContentExemptCategories);
        ContentOptionsValidation.Check(failures, Root, options.NearDuplicate, options.Content?.Rules?.Count ?? 0);
        ContentOptionsValidation.Check(failures, $"{Root}:ContentInspection", options.ContentInspection);
        ContentOptionsValidation.Check(failures, $"{Root}:BulkContent", options.BulkContent);
        ContentOptionsValidation.Check(failures, $"{Root}:FanOut", options.FanOut);
        if (options.Categories is null)
        {
            failures.Add($"{Root}:Categories must not be null.");
        }
        else
        {
            foreach (KeyValuePair<string, SendGuardDimensionOptions> pair in options.Categories)
            {
                if (string.IsNullOrWhiteSpace(pair.Key))
                {
                    failures.Add($"{Root}:Categories has an empty category name.");
                }

                CheckDimension(failures, $"Categories:{pair.Key}", pair.Value);
            }
        }

        CheckTenantPools(failures, options);
        if (options.FlagPolicies is null)
        {
            failures.Add($"{Root}:FlagPolicies must not be null.");
        }
        else
        {
            foreach (KeyValuePair<string, FlagPolicy> pair in options.FlagPolicies)
            {
                CheckFlagPolicy(failures, $"FlagPolicies:{pair.Key}", pair.Value);
            }
        }

        CheckFlagPolicy(failures, "DefaultFlagPolicy", options.DefaultFlagPolicy);
        if (options.Allowlist is null)
        {
            failures.Add($"{Root}:Allowlist must not be null.");
        }

        AddressNormalizationValidation.Check(failures, $"{Root}:AddressNormalization", options.AddressNormalization);
        FairShareOptionsValidation.Check(failures, $"{Root}:FairShare", options.FairShare, options.Global?.Rules);
        if (options.MaxReservationWait < TimeSpan.Zero || options.MaxReservationWait > SendGuardOptions.MaxReservationWaitLimit)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{Root}:MaxReservationWait must be from 00:00:00 to {SendGuardOptions.MaxReservationWaitLimit}; it is {options.MaxReservationWait}."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The pools' rules as any dimension's; the default pool must be one of them (a typo would cap no one).</summary>
    private static void CheckTenantPools(List<string> failures, SendGuardOptions options)
    {
        if (options.TenantPools is null)
        {
            failures.Add($"{Root}:TenantPools must not be null.");
            return;
        }

        foreach (KeyValuePair<string, SendGuardDimensionOptions> pair in options.TenantPools)
        {
            if (string.IsNullOrWhiteSpace(pair.Key) || pair.Key.Length > TenantPoolRules.MaxNameLength)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Root}:TenantPools has a pool name that is empty or longer than {TenantPoolRules.MaxNameLength} characters."));
            }
            else if (HasSurroundingWhitespace(pair.Key))
            {
                failures.Add($"{Root}:TenantPools:{pair.Key} has whitespace around the pool name '{pair.Key}'; the pool names of the tenant limit provider are trimmed, so no tenant would be in it. Remove the whitespace.");
            }

            CheckDimension(failures, $"TenantPools:{pair.Key}", pair.Value);
        }

        if (options.DefaultTenantPool is { } pool && HasSurroundingWhitespace(pool))
        {
            failures.Add($"{Root}:DefaultTenantPool is '{pool}', with whitespace around the pool name; remove the whitespace (the names in {Root}:TenantPools may have none).");
        }
        else if (options.DefaultTenantPool is { } named && !options.TenantPools.ContainsKey(named))
        {
            failures.Add($"{Root}:DefaultTenantPool is '{named}', which has no entry in {Root}:TenantPools; add its rules there, or leave DefaultTenantPool empty.");
        }
    }

    private static bool HasSurroundingWhitespace(string name) => name.Length > 0 && (char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]));

    private static void CheckDimension(List<string> failures, string dimension, SendGuardDimensionOptions? options)
    {
        string path = $"{Root}:{dimension}";
        if (options?.Rules is null)
        {
            failures.Add($"{path}:Rules must not be null.");
            return;
        }

        List<(RateLimitRule Rule, int Index)> valid = [];
        for (int i = 0; i < options.Rules.Count; i++)
        {
            string rulePath = string.Create(CultureInfo.InvariantCulture, $"{path}:Rules:{StrictConfiguration.ItemKey(options.Rules, i)}");
            RateLimitRuleOptions? rule = options.Rules[i];
            if (rule is null)
            {
                failures.Add($"{rulePath} is empty.");
                continue;
            }

            if (rule.Validate(rulePath) is { } failure)
            {
                failures.Add(failure);
                continue;
            }

            RateLimitRule built = rule.ToRule();
            int same = valid.FindIndex(r => r.Rule.HasSameShape(built));
            if (same >= 0)
            {
                // One window shape is one counter; two rules on it would count every message twice.
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{rulePath} has the same window and algorithm as {path}:Rules:{StrictConfiguration.ItemKey(options.Rules, valid[same].Index)}; give each rule of a dimension its own window."));
                continue;
            }

            valid.Add((built, i));
        }
    }

    private static void CheckFlagPolicy(List<string> failures, string name, FlagPolicy? policy)
    {
        string path = $"{Root}:{name}";
        if (policy is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (!(policy.LimitFactor > 0 && policy.LimitFactor <= 1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:LimitFactor must be greater than 0 and at most 1; it is {policy.LimitFactor}."));
        }

        // The only check of a flag policy's duration, for the default policy and every named one alike (FlagPolicy has no
        // data annotations: the generated validator named the default's EmailGuard:SendGuard:Duration, and said it twice).
        if (policy.Duration <= TimeSpan.Zero || policy.Duration > RateLimitRule.MaxWindow)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Duration must be positive and at most {RateLimitRule.MaxWindow}; it is {policy.Duration}."));
        }
    }
}
