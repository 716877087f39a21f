using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// An alert setting that could never work stops the app at startup, by its full path and value, rather than faulting the
/// delivery loop at the first alert.
/// </summary>
public sealed class AlertConfigurationTests
{
    private const string Alerts = "EmailGuard:Alerts";

    // Each row: the settings of one bad configuration, and the exact failure the app must stop with.
    public static TheoryData<string[], string> MalformedSettings => new()
    {
        // Beyond a timer's 49 days, CancelAfter and Task.Delay threw from the delivery loop and stopped the host.
        { [$"{Alerts}:RequestTimeout=999d"], $"{Alerts}:RequestTimeout must be positive and at most 00:05:00; it is 999.00:00:00." },
        { [$"{Alerts}:RetryDelay=1h"], $"{Alerts}:RetryDelay must be positive and at most 00:01:00; it is 01:00:00." },
        { [$"{Alerts}:Period=99999d"], $"{Alerts}:Period must be positive and at most 366.00:00:00; it is 99999.00:00:00." },
        { [$"{Alerts}:SpikeWindow=400d"], $"{Alerts}:SpikeWindow must be positive and at most 366.00:00:00; it is 400.00:00:00." },
        // Spikes are counted in the store's fixed windows, which are whole milliseconds.
        { [$"{Alerts}:SpikeWindow=00:00:00.0015"], $"{Alerts}:SpikeWindow must be a whole number of milliseconds; it is 00:00:00.0015000." },
        { [$"{Alerts}:Period=0s"], $"{Alerts}:Period must be positive and at most 366.00:00:00; it is 00:00:00." },
        // Sixteen spaces are sixteen characters, but no secret.
        { [$"{Alerts}:WebhookUrl=https://alerts.example.com/hook", $"{Alerts}:WebhookSecret=                "], $"{Alerts}:WebhookSecret: a webhook needs a secret of at least 16 characters, not all spaces, to sign its alerts." },
        // A Slack URL is its own secret (the path): a mistyped one fails by what is wrong with it, never by its value.
        { [$"{Alerts}:SlackWebhookUrl=hooks.slack.com/services/T0001/B0001/s3cr3tTokenXyZ"], $"{Alerts}:SlackWebhookUrl: the URL must be an absolute https URL (http only to a loopback address such as 127.0.0.1), without user information; it is not an absolute URL." },
        { [$"{Alerts}:SlackWebhookUrl=http://hooks.slack.com/services/T0001/B0001/s3cr3tTokenXyZ"], $"{Alerts}:SlackWebhookUrl: the URL must be an absolute https URL (http only to a loopback address such as 127.0.0.1), without user information; it is an http URL to hooks.slack.com." },
        { [$"{Alerts}:WebhookUrl=https://ops:s3cr3tTokenXyZ@alerts.example.com/hook", $"{Alerts}:WebhookSecret=test-secret-0123456789"], $"{Alerts}:WebhookUrl: the URL must be an absolute https URL (http only to a loopback address such as 127.0.0.1), without user information; it is an https URL to alerts.example.com with user information." },
    };

    [Theory]
    [MemberData(nameof(MalformedSettings))]
    public async Task Startup_MalformedSetting_FailsWithItsPathAndValue(string[] settings, string expected)
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => s.Split('=', 2)).Select(p => new KeyValuePair<string, string?>(p[0], p[1]))).Build());
        services.AddEmailGuard().AddAlerts();
        await using ServiceProvider provider = services.BuildServiceProvider();

        Action start = () => provider.GetRequiredService<IStartupValidator>().Validate();

        OptionsValidationException failure = start.Should().Throw<OptionsValidationException>().Which;
        failure.Failures.Should().Contain(expected);
        failure.Failures.Should().AllSatisfy(f => f.Should().StartWith($"{Alerts}:").And.NotContain("\n").And.NotContain("s3cr3t"));
    }
}
