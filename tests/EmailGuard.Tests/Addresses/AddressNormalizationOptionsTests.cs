using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Addresses;

public sealed class AddressNormalizationOptionsTests
{
    [Fact]
    public async Task AddSendGuard_ProviderFromConfiguration_ExtendsTheBuiltInTableAndFoldsKeys()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Recipient:Rules:0:Limit"] = "1",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:Name"] = "Example Mail",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:Domains:0"] = "mail.example",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:Domains:1"] = "post.example",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:CanonicalDomain"] = "mail.example",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:SubaddressSeparators"] = "+-",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;
        options.AddressNormalization.Providers.Select(p => p.Name).Should().Contain(["Gmail", "Example Mail"]);

        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(new OutboundEmail { To = ["ann@mail.example"] })).IsAllowed.Should().BeTrue();
        EmailSendDecision second = await guard.CheckAsync(new OutboundEmail { To = ["Ann-shop@POST.example\u3002"] });
        second.IsAllowed.Should().BeFalse();
        second.Recipient.Should().Be("ann@mail.example");
        (await guard.CheckAsync(new OutboundEmail { To = ["j.doe@googlemail.com"] })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["jdoe@gmail.com"] })).IsAllowed.Should().BeFalse("the built-in rules still apply");
    }

    [Fact]
    public async Task AddSendGuard_FoldingOffInConfiguration_IsBound()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: new Dictionary<string, string?>
        {
            ["EmailGuard:SendGuard:AddressNormalization:FoldProviderAliases"] = "false",
            ["EmailGuard:SendGuard:AddressNormalization:StripPlusTags"] = "false",
        });

        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;

        options.AddressNormalization.FoldProviderAliases.Should().BeFalse();
        options.StripPlusTags.Should().BeFalse();
    }

    [Theory]
    [InlineData("Domains:0", "not a domain", "EmailGuard:SendGuard:AddressNormalization:Providers:0 ('Bad'):Domains:0")]
    [InlineData("Domains:0", "[127.0.0.1]", "EmailGuard:SendGuard:AddressNormalization:Providers:0 ('Bad'):Domains:0")]
    [InlineData("CanonicalDomain", "localhost", "EmailGuard:SendGuard:AddressNormalization:Providers:0 ('Bad'):CanonicalDomain")]
    [InlineData("SubaddressSeparators", ".", "EmailGuard:SendGuard:AddressNormalization:Providers:0 ('Bad'):SubaddressSeparators")]
    [InlineData("IgnoredCharacters", "a", "EmailGuard:SendGuard:AddressNormalization:Providers:0 ('Bad'):IgnoredCharacters")]
    public async Task StartupValidation_InvalidProviderRule_FailsNamingTheSetting(string setting, string value, string expected)
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:Name"] = "Bad",
            ["EmailGuard:SendGuard:AddressNormalization:Providers:0:Domains:0"] = "mail.example",
            [$"EmailGuard:SendGuard:AddressNormalization:Providers:0:{setting}"] = value,
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public async Task StartupValidation_ProviderWithoutDomains_Fails()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.AddressNormalization.Providers.Add(new EmailProviderRule { Name = "Empty" }));

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("Providers:7 ('Empty'):Domains must list at least one domain");
    }

    [Fact]
    public void CreateDefaults_ReturnsIndependentCopies()
    {
        IList<EmailProviderRule> first = EmailProviderRule.CreateDefaults();
        first[0].Domains.Add("example.com");

        EmailProviderRule.CreateDefaults()[0].Domains.Should().NotContain("example.com");
        new EmailAddressNormalizationOptions().Providers.Should().NotBeSameAs(new EmailAddressNormalizationOptions().Providers);
    }
}
