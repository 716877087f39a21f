using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests;

public sealed class StartupTests
{
    [Fact]
    public async Task UnknownPolicy_AppStarts_FailsNamingThePolicy()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("sigunp"));

        (await start.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("*'sigunp'*AddPolicy*");
    }

    [Fact]
    public async Task UnknownPolicy_OnMvcAction_FailsAtStart()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s =>
            {
                s.AddControllers().AddApplicationPart(typeof(MailController).Assembly);
                s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(1))));
            },
            a => a.MapControllers());

        (await start.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*'action'*");
    }

    [Fact]
    public async Task UseEmailGuard_WithoutAddEmailGuard_ThrowsSayingWhatToAdd()
    {
        Func<Task> start = () => TestApp.StartAsync(_ => { }, _ => { });

        (await start.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("*services.AddEmailGuard()*");
    }

    [Fact]
    public async Task UseEmailGuard_WithoutEndpointPolicies_ThrowsSayingWhatToAdd()
    {
        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard(), _ => { });

        (await start.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("*AddEndpointPolicies*");
    }

    [Fact]
    public async Task PathRule_ZeroLimitInConfiguration_FailsAtStartNamingTheSetting()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "0",
        };

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .WithMessage("*EmailGuard:Endpoints:PathRules:0*");
    }

    [Theory]
    [InlineData("EmailGuard:Endpoints:PathRules:0:Endpoint", "POST:api/no-slash")]
    [InlineData("EmailGuard:Endpoints:AllowlistedNetworks:0", "10.0.0.0/33")]
    [InlineData("EmailGuard:Endpoints:RejectionStatusCode", "200")]
    public async Task InvalidSetting_AppStarts_FailsNamingTheSetting(string key, string value)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "*",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "10",
            [key] = value,
        };

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        string setting = key.Split(':')[^1] is var last && int.TryParse(last, out _) ? key.Split(':')[^2] : key.Split(':')[^1];
        (await start.Should().ThrowAsync<OptionsValidationException>()).WithMessage($"*{setting}*");
    }

    [Fact]
    public void AddPolicy_DuplicateName_Throws()
    {
        var options = new EmailGuardEndpointOptions().AddPolicy("a", p => p.PerClientIp(RateLimitRule.PerHour(1)));

        Action again = () => options.AddPolicy("a", p => p.PerClientIp(RateLimitRule.PerHour(1)));

        again.Should().Throw<ArgumentException>().WithMessage("*'a'*");
    }

    [Fact]
    public async Task PolicyWithoutPartitions_AppStarts_Fails()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("empty", _ => { })),
            _ => { });

        (await start.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*'empty'*no partitions*");
    }
}
