using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="EmailFeedbackOptions"/> at startup, naming each setting by its full configuration path.</summary>
internal sealed class EmailFeedbackOptionsValidator : IValidateOptions<EmailFeedbackOptions>
{
    private const string Root = "EmailGuard:Feedback";

    public ValidateOptionsResult Validate(string? name, EmailFeedbackOptions options)
    {
        List<string> failures = [];
        Window(failures, nameof(options.AttributionLifetime), options.AttributionLifetime);
        Window(failures, nameof(options.DeduplicationWindow), options.DeduplicationWindow);
        Window(failures, nameof(options.CountWindow), options.CountWindow);
        Window(failures, nameof(options.TransientBouncePeriod), options.TransientBouncePeriod);
        Duration(failures, nameof(options.HardBounceSuppression), options.HardBounceSuppression);
        Duration(failures, nameof(options.ComplaintSuppression), options.ComplaintSuppression);
        Duration(failures, nameof(options.TransientBounceSuppression), options.TransientBounceSuppression);
        Duration(failures, nameof(options.UnsubscribeSuppression), options.UnsubscribeSuppression);
        if (options.TransientBounceThreshold is < 0 or > 1000)
        {
            failures.Add($"{Root}:TransientBounceThreshold must be from 0 (off) to 1000; it is {options.TransientBounceThreshold}.");
        }

        if (options.CountLastSends is < 0 or > 10_000_000 || options.CountLastSends is > 0 and < 10)
        {
            failures.Add($"{Root}:CountLastSends must be 0 (the time window only) or from 10 to 10000000; it is {options.CountLastSends}.");
        }

        if (options.CountLastSendsWithin < TimeSpan.FromHours(1) || options.CountLastSendsWithin > TimeSpan.FromDays(120)
            || options.CountLastSendsWithin.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            failures.Add($"{Root}:CountLastSendsWithin must be a whole number of seconds from 1 hour to 120 days; it is {options.CountLastSendsWithin}.");
        }

        if (options.MaxInMemoryMappings is < 1 or > 10_000_000)
        {
            failures.Add($"{Root}:MaxInMemoryMappings must be from 1 to 10000000; it is {options.MaxInMemoryMappings}.");
        }

        SigningKeys(failures, options.TagSigningKeys);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Checks each key's form and length; the message never shows a key, not even one that is wrong.</summary>
    private static void SigningKeys(List<string> failures, IList<string> keys)
    {
        const string Setting = Root + ":" + nameof(EmailFeedbackOptions.TagSigningKeys);
        if (keys.Count > FeedbackTagSigner.MaxKeys)
        {
            failures.Add($"{Setting} lists {keys.Count} keys; at most {FeedbackTagSigner.MaxKeys} are accepted (the first signs, the others only verify until the mail they signed has had its feedback).");
        }

        for (int i = 0; i < keys.Count; i++)
        {
            if (FeedbackTagSigner.TryDecodeKey(keys[i]) is null)
            {
                failures.Add($"{Setting}:{i} must be base64 of {FeedbackTagSigner.MinKeyBytes} to {FeedbackTagSigner.MaxKeyBytes} random bytes (openssl rand -base64 32); it is {Describe(keys[i])}.");
            }
        }

        if (keys.Distinct(StringComparer.Ordinal).Count() != keys.Count)
        {
            failures.Add($"{Setting} lists a key twice.");
        }
    }

    private static string Describe(string? key)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            return "empty";
        }

        if (key.Length > 1024)
        {
            return $"{key.Length} characters long";
        }

        Span<byte> buffer = stackalloc byte[key.Length];
        return Convert.TryFromBase64String(key, buffer, out int written)
            ? $"{written} bytes"
            : "not base64";
    }

    private static void Window(List<string> failures, string setting, TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1) || value > RateLimitRule.MaxWindow || value.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            failures.Add($"{Root}:{setting} must be a whole number of seconds from 1 second to {RateLimitRule.MaxWindow.TotalDays} days; it is {value}.");
        }
    }

    private static void Duration(List<string> failures, string setting, TimeSpan? value)
    {
        if (value is { } d && d <= TimeSpan.Zero)
        {
            failures.Add($"{Root}:{setting} must be positive, or empty for no expiry; it is {d}.");
        }
    }
}
