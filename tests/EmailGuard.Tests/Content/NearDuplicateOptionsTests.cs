using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Content;

public sealed class NearDuplicateOptionsTests
{
    [Fact]
    public async Task AddSendGuard_NearDuplicateFromConfiguration_IsBoundAndCounted()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Content:Rules:0:Limit"] = "50",
            ["EmailGuard:SendGuard:NearDuplicate:Enabled"] = "true",
            ["EmailGuard:SendGuard:NearDuplicate:Bands"] = "6",
            ["EmailGuard:SendGuard:NearDuplicate:RowsPerBand"] = "4",
            ["EmailGuard:SendGuard:NearDuplicate:MinWords"] = "30",
            ["EmailGuard:SendGuard:NearDuplicate:FooterMarkers:0"] = "Northwind Traders GmbH",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        sp.GetRequiredService<IStartupValidator>().Validate();
        NearDuplicateContentOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value.NearDuplicate;
        options.Enabled.Should().BeTrue();
        options.Bands.Should().Be(6);
        options.RowsPerBand.Should().Be(4);
        options.MinWords.Should().Be(30);
        options.FooterMarkers.Should().Equal("Northwind Traders GmbH");

        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail
        {
            To = ["a@example.com"],
            Content = new EmailContent { TextBody = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"word{(char)('a' + (i % 26))}{(char)('a' + (i / 26))}")) },
        });
        decision.Usage.ToArray().Where(u => u.Dimension == EmailGuardDimension.Content).Should().HaveCount(7, "the fingerprint and six bands");
    }

    [Fact]
    public void Defaults_AreOff_WithFourBandsOfFiveRows()
    {
        NearDuplicateContentOptions options = new SendGuardOptions().NearDuplicate;

        options.Enabled.Should().BeFalse();
        options.Bands.Should().Be(4);
        options.RowsPerBand.Should().Be(5);
        options.MinWords.Should().Be(20);
        options.FooterMarkers.Should().BeEmpty();
    }

    [Theory]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:Bands", "0", "EmailGuard:SendGuard:NearDuplicate:Bands must be between 1 and 16; it is 0.")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:Bands", "17", "EmailGuard:SendGuard:NearDuplicate:Bands must be between 1 and 16; it is 17.")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:RowsPerBand", "0", "EmailGuard:SendGuard:NearDuplicate:RowsPerBand must be between 1 and 16; it is 0.")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:MinWords", "1", "EmailGuard:SendGuard:NearDuplicate:MinWords must be between 2 and 2048; it is 1.")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:FooterMarkers:0", "-- ", "EmailGuard:SendGuard:NearDuplicate:FooterMarkers:0 has no words")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:Enabled", "true", "EmailGuard:SendGuard:NearDuplicate:Enabled is true but EmailGuard:SendGuard:Content has no rules")]
    [InlineData("EmailGuard:SendGuard:NearDuplicate:Band", "4", "EmailGuard:SendGuard:NearDuplicate:Band: unknown setting; did you mean Bands?")]
    public async Task StartupValidation_InvalidNearDuplicateSetting_FailsNamingTheSetting(string key, string value, string expected)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: new Dictionary<string, string?> { [key] = value });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public async Task Startup_BandKeysBeyondTheStoreBound_CountInTheCapacityCheck()
    {
        // 2 content rules x (1 + 16 bands) = 34 message-wide counters; 4,062 recipients x 1 rule fit without them, not with.
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.MaxRecipientsPerMessage = 4_070;
            o.Recipient.Add(RateLimitRule.PerHour(5));
            o.Content.Add(RateLimitRule.PerHour(50)).Add(RateLimitRule.PerDay(500));
            o.NearDuplicate.Enabled = true;
            o.NearDuplicate.Bands = 16;
            o.BulkContent.Trips = 0; // no counters of a party's own copies (SendGuardCapacityTests counts those)
        });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("+ 34 message-wide rules (Content 2, NearDuplicate 32)");
    }
}
