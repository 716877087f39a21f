using Microsoft.Extensions.Configuration;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>How a policy's defenses from code and from configuration combine: configuration wins for each setting it sets.</summary>
public sealed class PolicyDefenseTests
{
    [Fact]
    public void SurgeBreakerInCode_TripForInConfiguration_TheCodesThresholdAndActionStand()
    {
        var fromCode = new EmailGuardPolicyDefenseOptions
        {
            SurgeBreaker = new() { ThresholdPerMinute = 50, Action = EmailGuardSurgeAction.Deny },
        };
        var errors = new List<string>();

        PolicyDefense? defense = Create(fromCode, errors, ("SurgeBreaker:TripFor", "00:03:00"));

        errors.Should().BeEmpty("the code's threshold still applies, so the breaker has one");
        defense!.Surge!.ThresholdPerMinute.Should().Be(50);
        defense.Surge.Action.Should().Be(EmailGuardSurgeAction.Deny);
        defense.Surge.TripFor.Should().Be(TimeSpan.FromMinutes(3));
    }

    [Fact]
    public void BounceBanInCode_BouncesInConfiguration_TheCodesBanLengthStands()
    {
        var fromCode = new EmailGuardPolicyDefenseOptions { BounceBan = new() { BanFor = TimeSpan.FromDays(3), Within = TimeSpan.FromDays(2) } };
        var errors = new List<string>();

        PolicyDefense? defense = Create(fromCode, errors, ("bounceban:bounces", "4"));

        errors.Should().BeEmpty();
        defense!.BounceBan!.Bounces.Should().Be(4, "configuration keys match whatever their case");
        defense.BounceBan.BanFor.Should().Be(TimeSpan.FromDays(3));
        defense.BounceBan.Within.Should().Be(TimeSpan.FromDays(2));
    }

    [Fact]
    public void EscalatingBanOnlyInConfiguration_UnsetSettingsTakeTheirDefaults()
    {
        var errors = new List<string>();

        PolicyDefense? defense = Create(new EmailGuardPolicyDefenseOptions(), errors, ("EscalatingBan:MaxDenials", "2"));

        errors.Should().BeEmpty();
        defense!.Ban!.MaxDenials.Should().Be(2);
        defense.BanLengths[0].Should().Be(TimeSpan.FromHours(1));
    }

    [Fact]
    public void CodeSetsASettingAndConfigurationSetsItToo_ConfigurationWins()
    {
        var fromCode = new EmailGuardPolicyDefenseOptions { EscalatingBan = new() { BanFor = TimeSpan.FromHours(6), MaxBanFor = TimeSpan.FromDays(2) } };
        var errors = new List<string>();

        PolicyDefense? defense = Create(fromCode, errors, ("EscalatingBan:BanFor", "01:00:00"));

        errors.Should().BeEmpty();
        defense!.BanLengths[0].Should().Be(TimeSpan.FromHours(1), "configuration set BanFor, even to its default");
        defense.Ban!.MaxBanFor.Should().Be(TimeSpan.FromDays(2));
    }

    [Fact]
    public void DefenseSetInCodeOnTheOptions_WinsWhole()
    {
        // PolicyDefenses set in code (not bound from configuration) replace the builder's defense as before.
        var options = new EmailGuardEndpointOptions();
        options.PolicyDefenses["signup"] = new EmailGuardPolicyDefenseOptions { Allow2Ban = new() { MaxRequests = 4 } };
        var fromCode = new EmailGuardPolicyDefenseOptions { Allow2Ban = new() { MaxRequests = 3, BanFor = TimeSpan.FromHours(5) } };
        var errors = new List<string>();

        PolicyDefense? defense = PolicyDefense.Create("signup", fromCode, options.PolicyDefenses["signup"], hasClientIpPartition: true, errors);

        errors.Should().BeEmpty();
        defense!.Allow2Ban!.MaxRequests.Should().Be(4);
        defense.Allow2Ban.BanFor.Should().Be(TimeSpan.FromHours(1));
    }

    /// <summary>Binds <paramref name="settings"/> under the policy's configuration section as the app does, then merges.</summary>
    private static PolicyDefense? Create(EmailGuardPolicyDefenseOptions fromCode, List<string> errors, params (string Key, string Value)[] settings)
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>("EmailGuard:Endpoints:PolicyDefenses:signup:" + s.Key, s.Value)))
            .Build();
        var options = new EmailGuardEndpointOptions();
        new ConfigureEndpointOptionsFromConfiguration(configuration).Configure(options);
        return PolicyDefense.Create("signup", fromCode, options.PolicyDefenses["signup"], hasClientIpPartition: true, errors);
    }
}
