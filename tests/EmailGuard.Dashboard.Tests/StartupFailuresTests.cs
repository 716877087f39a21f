using System.Net;
using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// An app with a bad setting in several EmailGuard sections learns of every one at its first start, as
/// <c>ValidateOnStart</c> reports several failing option types together, instead of one section per restart.
/// </summary>
public sealed class StartupFailuresTests
{
    // One bad setting in every section of every package, each the only failure of its section.
    private static readonly Dictionary<string, string?> BadSettings = new()
    {
        ["EmailGuard:SendGuard:GlobalLimitt"] = "5",
        ["EmailGuard:Endpoints:RejectionStatusCode"] = "200",
        ["EmailGuard:Webhooks:Postmark:MaxEventAge"] = "1m",
        ["EmailGuard:Redis:Conection"] = "localhost:6379",
        ["EmailGuard:Alerts:Period"] = "0s",
        ["EmailGuard:Feedback:MaxInMemoryMappings"] = "0",
        ["EmailGuard:RatioBreakers:MinimumSends"] = "0",
        ["EmailGuard:Resilience:Timeout"] = "0s",
        ["EmailGuard:InMemoryStore:MaxTrackedKeys"] = "0",
        ["EmailGuard:SendGaurd:Global:0:Limit"] = "1",
    };

    [Fact]
    public async Task Start_BadSettingsInEverySection_ReportsEverySettingAtOnce()
    {
        IReadOnlyList<string> failures = await StartFailuresAsync(BadSettings);

        failures.Should().HaveCount(BadSettings.Count, "one failure per bad setting, none twice: {0}", string.Join(" | ", failures));
        foreach (string key in BadSettings.Keys)
        {
            // A misspelt section is named as the section, the rest by the setting itself.
            failures.Should().ContainSingle(f => key.StartsWith(f.Split(' ')[0].TrimEnd(':', '.') + ":", StringComparison.Ordinal) || f.StartsWith(key, StringComparison.Ordinal), "the failures must name {0}", key);
        }

        failures.Should().AllSatisfy(f => StartupFailure.ShouldNameOneOf(f, BadSettings.Keys));
    }

    [Fact]
    public async Task Start_BreakersExcludePoolOfInvalidSendGuard_ReportsTheSendGuardOnceAndTheBreakersOwnFailure()
    {
        // The breakers' check of an excluded pool reads the send guard's options, which fail on their own: that failure
        // is reported once, by the send guard, and the breakers' own bad setting is not lost behind it.
        Dictionary<string, string?> settings = new()
        {
            ["EmailGuard:SendGuard:TenantPools:trials:Rules:0:Limit"] = "oops",
            ["EmailGuard:RatioBreakers:ExcludedTenantPools:0"] = "trials",
            ["EmailGuard:RatioBreakers:MinimumSends"] = "0",
        };

        IReadOnlyList<string> failures = await StartFailuresAsync(settings);

        failures.Should().HaveCount(2, "the send guard's failure once and the breakers' own: {0}", string.Join(" | ", failures));
        failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:SendGuard:TenantPools:trials:Rules:0:Limit", StringComparison.Ordinal));
        failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:RatioBreakers:MinimumSends", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_MistakesOfEveryKindInOneSection_ReportsEachAtOnce()
    {
        // Within a section too: a misspelt key did not let the range checks run, so each kind of mistake took a restart.
        Dictionary<string, string?> settings = new()
        {
            ["EmailGuard:Alerts:SlackWebhookUlr"] = "https://hooks.slack.com/services/T0/B0/x",
            ["EmailGuard:Alerts:SpikeThreshold"] = "lots",
            ["EmailGuard:Alerts:Period"] = "0s",
            ["EmailGuard:SendGuard:Tennant:Rules:0:Limit"] = "5",
            ["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "0",
        };

        IReadOnlyList<string> failures = await StartFailuresAsync(settings);

        StartupFailure.ShouldBeOnePer(
            [.. failures],
            "EmailGuard:Alerts:SlackWebhookUlr: unknown setting; did you mean SlackWebhookUrl?",
            "EmailGuard:Alerts:SpikeThreshold: 'lots' is not a whole number",
            "EmailGuard:Alerts:Period must be positive and at most 366.00:00:00; it is 00:00:00.",
            "EmailGuard:SendGuard:Tennant: unknown setting; did you mean Tenant?",
            "EmailGuard:SendGuard:Tenant:Rules:0:Limit must be between 1 and ");
    }

    [Fact]
    public async Task Start_OneBadSetting_FailsWithThatSettingAlone()
    {
        Func<Task> start = () => StartAsync(new Dictionary<string, string?> { ["EmailGuard:Alerts:Period"] = "0s" });

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().Equal("EmailGuard:Alerts:Period must be positive and at most 366.00:00:00; it is 00:00:00.");
    }

    private static async Task<IReadOnlyList<string>> StartFailuresAsync(Dictionary<string, string?> settings)
    {
        // Caught by hand: FluentAssertions unwraps an AggregateException, and how the failures are grouped is part of the test.
        Exception? thrown = null;
        try
        {
            await StartAsync(settings);
        }
        catch (Exception exception)
        {
            thrown = exception;
        }

        thrown.Should().NotBeNull("the app must not start");
        List<string> failures = [];
        foreach (Exception exception in thrown is AggregateException aggregate ? aggregate.InnerExceptions : [thrown!])
        {
            exception.Should().BeOfType<OptionsValidationException>("every failure is a bad setting: {0}", exception);
            failures.AddRange(((OptionsValidationException)exception).Failures);
        }

        return failures;
    }

    /// <summary>An app that uses every EmailGuard package, its endpoints mapped as a real app maps them, then started.</summary>
    private static async Task StartAsync(Dictionary<string, string?> settings)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
        {
            ["EmailGuard:Webhooks:Postmark:Enabled"] = "true",
            ["EmailGuard:Webhooks:Postmark:Username"] = "postmark",
            ["EmailGuard:Webhooks:Postmark:Password"] = "a-long-enough-password-0123",
            ["EmailGuard:Redis:Configuration"] = settings.ContainsKey("EmailGuard:Redis:Conection") ? null : "localhost:1,abortConnect=false",
        });
        builder.Services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireRole("ops")));
        builder.Services.AddEmailGuard()
            .AddSendGuard(o => o.Global.Add(RateLimitRule.PerHour(1_000)))
            .AddEndpointPolicies()
            .AddFeedbackWebhooks()
            .AddRedisStore()
            .AddDashboard()
            .AddAlerts();

        await using WebApplication app = builder.Build();
        app.UseEmailGuard();
        app.MapEmailGuardFeedback();
        app.MapEmailGuardDashboard("/emailguard", o => o.AuthorizationPolicy = "ops");
        await app.StartAsync();
        await app.StopAsync();
    }
}
