using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Guard;

public sealed class SendGuardOptionsTests
{
    [Fact]
    public async Task AddSendGuard_RulesFromConfiguration_AreBoundAndEnforced()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "2",
            ["EmailGuard:SendGuard:Tenant:Rules:0:Window"] = "01:00:00",
            ["EmailGuard:SendGuard:Tenant:Rules:1:Limit"] = "10",
            ["EmailGuard:SendGuard:Tenant:Rules:1:Window"] = "1.00:00:00",
            ["EmailGuard:SendGuard:Tenant:Rules:1:Algorithm"] = "SlidingWindow",
            ["EmailGuard:SendGuard:Tenant:Rules:1:Segments"] = "24",
            ["EmailGuard:SendGuard:Categories:signup:Rules:0:Limit"] = "1000",
            ["EmailGuard:SendGuard:StripPlusTags"] = "false",
            ["EmailGuard:SendGuard:MaxReservationWait"] = "00:01:30",
            ["EmailGuard:SendGuard:FlagPolicies:chargeback:Suspend"] = "true",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;
        options.Tenant.Rules.Select(r => r.ToRule()).Should().Equal(
            RateLimitRule.PerHour(2), RateLimitRule.SlidingWindow(10, TimeSpan.FromDays(1), 24));
        options.Categories["SIGNUP"].Rules.Should().ContainSingle().Which.Limit.Should().Be(1000);
        options.StripPlusTags.Should().BeFalse();
        options.MaxReservationWait.Should().Be(TimeSpan.FromSeconds(90));
        options.GetFlagPolicy("chargeback").Suspend.Should().BeTrue();
        options.GetFlagPolicy("high_bounce_rate").LimitFactor.Should().Be(0.1);

        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "acme" };
        (await guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(mail)).Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Fact]
    public async Task AddSendGuard_ContentSettingsFromConfiguration_AreBound()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Content:Rules:0:Limit"] = "50",
            ["EmailGuard:SendGuard:Content:Rules:0:Window"] = "01:00:00",
            ["EmailGuard:SendGuard:ContentInspection:Timeout"] = "00:00:00.750",
            ["EmailGuard:SendGuard:ContentInspection:FailureMode"] = "Deny",
            ["EmailGuard:SendGuard:BulkContent:Trips"] = "5",
            ["EmailGuard:SendGuard:BulkContent:Period"] = "1.00:00:00",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        sp.GetRequiredService<IStartupValidator>().Validate();
        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;
        options.Content.Rules.Select(r => r.ToRule()).Should().Equal(RateLimitRule.PerHour(50));
        options.ContentInspection.Timeout.Should().Be(TimeSpan.FromMilliseconds(750));
        options.ContentInspection.FailureMode.Should().Be(ContentInspectionFailureMode.Deny);
        options.BulkContent.Trips.Should().Be(5);
        options.BulkContent.Period.Should().Be(TimeSpan.FromDays(1));
        options.GetFlagPolicy(EmailGuardFlagReasons.BulkContent).LimitFactor.Should().Be(0.1);
    }

    [Fact]
    public async Task AddSendGuard_FluentAndConfigurationTogether_BothApply()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Recipient.Add(RateLimitRule.PerHour(5)),
            new Dictionary<string, string?> { ["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "100" });

        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;

        options.Global.Rules.Should().ContainSingle().Which.Limit.Should().Be(100);
        options.Recipient.Rules.Should().ContainSingle().Which.Limit.Should().Be(5);
    }

    [Theory]
    [InlineData("EmailGuard:SendGuard:Tenant:Rules:0:Limit", "0", "EmailGuard:SendGuard:Tenant:Rules:0:Limit must be between 1")]
    [InlineData("EmailGuard:SendGuard:Recipient:Rules:0:Limit", "-5", "EmailGuard:SendGuard:Recipient:Rules:0:Limit must be between 1")]
    [InlineData("EmailGuard:SendGuard:Global:Rules:0:Window", "00:00:00", "EmailGuard:SendGuard:Global:Rules:0:Window must be")]
    [InlineData("EmailGuard:SendGuard:Categories:signup:Rules:0:Limit", "0", "EmailGuard:SendGuard:Categories:signup:Rules:0:Limit")]
    [InlineData("EmailGuard:SendGuard:FlagPolicies:complaint:LimitFactor", "0", "EmailGuard:SendGuard:FlagPolicies:complaint:LimitFactor")]
    [InlineData("EmailGuard:SendGuard:MaxRecipientsPerMessage", "0", "MaxRecipientsPerMessage")]
    [InlineData("EmailGuard:SendGuard:Content:Rules:0:Limit", "0", "EmailGuard:SendGuard:Content:Rules:0:Limit must be between 1")]
    [InlineData("EmailGuard:SendGuard:ContentInspection:Timeout", "00:00:00", "EmailGuard:SendGuard:ContentInspection:Timeout must be positive")]
    [InlineData("EmailGuard:SendGuard:ContentInspection:Timeout", "00:05:00", "EmailGuard:SendGuard:ContentInspection:Timeout must be positive and at most 00:01:00")]
    [InlineData("EmailGuard:SendGuard:ContentInspection:FailureMode", "Maybe", "EmailGuard:SendGuard:ContentInspection:FailureMode")]
    [InlineData("EmailGuard:SendGuard:ContentInspection:Timout", "00:00:01", "EmailGuard:SendGuard:ContentInspection:Timout: unknown setting; did you mean Timeout?")]
    [InlineData("EmailGuard:SendGuard:BulkContent:Trips", "-1", "EmailGuard:SendGuard:BulkContent:Trips must be between 0")]
    [InlineData("EmailGuard:SendGuard:BulkContent:Period", "00:00:00", "EmailGuard:SendGuard:BulkContent:Period must be positive")]
    [InlineData("EmailGuard:SendGuard:MaxReservationWait", "01:00:01", "EmailGuard:SendGuard:MaxReservationWait must be from 00:00:00 to 01:00:00; it is 01:00:01.")]
    [InlineData("EmailGuard:SendGuard:MaxReservationWait", "-00:00:01", "EmailGuard:SendGuard:MaxReservationWait must be from 00:00:00 to 01:00:00")]
    [InlineData("EmailGuard:SendGuard:MaxReservationWiat", "00:00:01", "EmailGuard:SendGuard:MaxReservationWiat: unknown setting; did you mean MaxReservationWait?")]
    [InlineData("EmailGuard:SendGuard:IPv4PrefixLength", "7", "EmailGuard:SendGuard:IPv4PrefixLength must be between 8 and 32; it is 7.")]
    [InlineData("EmailGuard:SendGuard:IPv4PrefixLength", "33", "EmailGuard:SendGuard:IPv4PrefixLength must be between 8 and 32; it is 33.")]
    [InlineData("EmailGuard:SendGuard:IPv6PrefixLength", "129", "EmailGuard:SendGuard:IPv6PrefixLength must be between 1 and 128; it is 129.")]
    [InlineData("EmailGuard:SendGuard:IPV4Prefix", "24", "EmailGuard:SendGuard:IPV4Prefix: unknown setting; did you mean IPv4PrefixLength?")]
    public async Task StartupValidation_InvalidSetting_FailsNamingTheSetting(string key, string value, string expected)
    {
        Dictionary<string, string?> config = new() { [key] = value };
        if (key.EndsWith(":Window", StringComparison.Ordinal))
        {
            config[key.Replace(":Window", ":Limit", StringComparison.Ordinal)] = "10";
        }

        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(33)]
    public async Task StartupValidation_IPv4PrefixLengthOutOfRangeInCode_FailsNamingTheSetting(int prefixLength)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.IPv4PrefixLength = prefixLength);

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should()
            .Contain($"EmailGuard:SendGuard:IPv4PrefixLength must be between 8 and 32; it is {prefixLength}.");
    }

    [Fact]
    public async Task AddSendGuard_IPv4PrefixLengthFromConfiguration_GroupsClientsByIt()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:IPv4PrefixLength"] = "24",
            ["EmailGuard:SendGuard:ClientIp:Rules:0:Limit"] = "1",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);
        sp.GetRequiredService<IOptions<SendGuardOptions>>().Value.IPv4PrefixLength.Should().Be(24);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], ClientIp = System.Net.IPAddress.Parse("203.0.113.7") })).IsAllowed.Should().BeTrue();
        EmailSendDecision neighbour = await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], ClientIp = System.Net.IPAddress.Parse("203.0.113.8") });

        neighbour.Partition.Should().Be("203.0.113.0/24");
    }

    [Fact]
    public async Task StartupValidation_TwoRulesWithOneWindow_FailsBecauseTheyWouldShareACounter()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerHour(50)));

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("EmailGuard:SendGuard:Tenant:Rules:1 has the same window");
    }

    [Fact]
    public async Task StartupValidation_ValidOptions_Pass()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(1000)));

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().NotThrow();
    }
}
