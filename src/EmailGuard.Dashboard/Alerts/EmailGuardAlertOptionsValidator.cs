using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>Fails startup on an alert setting that could never work, naming the setting's full path.</summary>
internal sealed class EmailGuardAlertOptionsValidator : IValidateOptions<EmailGuardAlertOptions>
{
    private const string Prefix = "EmailGuard:Alerts:";

    /// <summary>The longest first retry delay: doubled up to 16 times it stays below a timer's 49-day limit.</summary>
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, EmailGuardAlertOptions options)
    {
        List<string> failures = [];
        CheckUrl(options.SlackWebhookUrl, nameof(options.SlackWebhookUrl), failures);
        CheckUrl(options.WebhookUrl, nameof(options.WebhookUrl), failures);
        CheckDashboardUrl(options.DashboardUrl, failures);
        if (!string.IsNullOrEmpty(options.WebhookUrl) && (string.IsNullOrWhiteSpace(options.WebhookSecret) || options.WebhookSecret.Length < 16))
        {
            failures.Add($"{Prefix}{nameof(options.WebhookSecret)}: a webhook needs a secret of at least 16 characters, not all spaces, to sign its alerts.");
        }

        // Upper bounds too: a RequestTimeout or a doubled RetryDelay beyond what a timer takes (about 49 days) threw from
        // the delivery loop at the first alert and stopped the host; a Period near TimeSpan.MaxValue overflowed a date.
        Positive(options.Period, RateLimitRule.MaxWindow, nameof(options.Period), failures);
        Positive(options.SpikeWindow, RateLimitRule.MaxWindow, nameof(options.SpikeWindow), failures);
        if (options.SpikeWindow > TimeSpan.Zero && options.SpikeWindow.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            // Spikes are counted in the store's fixed windows, whose length is whole milliseconds.
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Prefix}{nameof(options.SpikeWindow)} must be a whole number of milliseconds; it is {options.SpikeWindow}."));
        }

        Positive(options.RetryDelay, MaxRetryDelay, nameof(options.RetryDelay), failures);
        Positive(options.RequestTimeout, MaxRequestTimeout, nameof(options.RequestTimeout), failures);
        Range(options.SpikeThreshold, 1, int.MaxValue, nameof(options.SpikeThreshold), failures);
        Range(options.QueueCapacity, 1, 100_000, nameof(options.QueueCapacity), failures);
        Range(options.MaxAttempts, 1, 20, nameof(options.MaxAttempts), failures);
        Range(options.MaxConditionsPerKind, 1, 1_000, nameof(options.MaxConditionsPerKind), failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>An absolute https URL, or http to a loopback host (a local relay or a test's receiver).</summary>
    internal static bool IsAcceptableUrl(string url)
        => Uri.TryCreate(url, UriKind.Absolute, out Uri? uri)
           && (uri.Scheme == Uri.UriSchemeHttps
               || (uri.Scheme == Uri.UriSchemeHttp && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? ip) && IPAddress.IsLoopback(ip)))))
           && string.IsNullOrEmpty(uri.UserInfo);

    private static void CheckUrl(string? url, string setting, List<string> failures)
    {
        if (!string.IsNullOrEmpty(url) && !IsAcceptableUrl(url))
        {
            // The value is not repeated: a Slack webhook URL carries its secret in the path (and a webhook URL may in its
            // query or user information), and startup failures end up in logs.
            failures.Add($"{Prefix}{setting}: the URL must be an absolute https URL (http only to a loopback address such as 127.0.0.1), without user information; it is {Shape(url)}.");
        }
    }

    /// <summary>
    /// A link in every alert: an operator clicks it, so it must be a web page (a <c>javascript:</c> or relative link
    /// would run or resolve elsewhere), and the alerts' paths are appended to it, so it has no query or fragment.
    /// </summary>
    private static void CheckDashboardUrl(string? url, List<string> failures)
    {
        if (string.IsNullOrEmpty(url))
        {
            return;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri)
            || uri.Scheme is not ("https" or "http")
            || uri.Host.Length == 0
            || uri.UserInfo.Length > 0
            || uri.Query.Length > 0
            || uri.Fragment.Length > 0)
        {
            failures.Add($"{Prefix}{nameof(EmailGuardAlertOptions.DashboardUrl)}: the dashboard's address must be an absolute http or https URL, mount path included (e.g. https://admin.example.com/emailguard), without user information, query or fragment; it is {Shape(url)}.");
        }
    }

    /// <summary>What is wrong with a URL without its secret parts: its scheme and host, or that it is not absolute.</summary>
    private static string Shape(string url)
        => Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) && uri.Host.Length > 0
            ? $"an {uri.Scheme} URL to {uri.Host}{(uri.UserInfo.Length > 0 ? " with user information" : string.Empty)}"
            : "not an absolute URL";

    private static void Positive(TimeSpan value, TimeSpan max, string setting, List<string> failures)
    {
        if (value <= TimeSpan.Zero || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Prefix}{setting} must be positive and at most {max}; it is {value}."));
        }
    }

    private static void Range(int value, int min, int max, string setting, List<string> failures)
    {
        if (value < min || value > max)
        {
            failures.Add($"{Prefix}{setting}: {value} must be between {min} and {max}.");
        }
    }
}
