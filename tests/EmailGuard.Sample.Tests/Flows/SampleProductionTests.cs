using System.Net;
using EmailGuard.Sample.Tenants;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The sample outside Development: the dev outbox, which shows who has an account, answers 404 without the admin key,
/// so "ask for a reset, then look at the outbox" tells an attacker nothing.
/// </summary>
public sealed class SampleProductionTests : IAsyncLifetime
{
    private SampleApp _app = null!;

    public Task InitializeAsync()
    {
        _app = SampleApp.Start(environment: "Production");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Outbox_WithoutTheAdminKey_NotFoundAndNotLinked()
    {
        _app.Services.GetRequiredService<SampleDatabase>().TryCreateAccount("known@example.com", DateTimeOffset.UnixEpoch);
        using SampleHttpClient visitor = new(_app.BaseAddress);
        (await visitor.SubmitAsync("/password-reset", "/password-reset", ("email", "known@example.com"))).Dispose();
        await _app.MailDrainedAsync();

        using HttpResponseMessage outbox = await visitor.GetAsync("/outbox");
        string home = await visitor.GetStringAsync("/");

        outbox.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await outbox.Content.ReadAsStringAsync()).Should().NotContain("known@example.com");
        home.Should().NotContain("href=\"/outbox\" aria-current", "the navigation does not offer a page the visitor cannot open");
    }

    [Fact]
    public async Task Signup_ChallengeRequired_TheDevelopmentStandInDoesNotPassIt()
    {
        // Arrange: sign-ups ask for a challenge (as while they surge). The stand-in passes any post that says "human", so
        // outside Development it would wave every bot through the one defence left against many networks.
        await using SampleApp production = SampleApp.Start(
            new Dictionary<string, string?> { ["EmailGuard:Endpoints:PolicyDefenses:signup:RequireChallenge"] = "true" }, environment: "Production");
        using SampleHttpClient bot = new(production.BaseAddress);

        // Act
        using HttpResponseMessage response = await bot.SubmitAsync("/signup", "/signup", ("email", "bot-target@example.com"), ("dev-challenge", "human"));
        await production.MailDrainedAsync();

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.Forbidden, "only a real challenge, which the app plugs in, passes outside Development");
        production.PickedUpMails().Should().BeEmpty();
        (await bot.GetStringAsync("/signup")).Should().NotContain("dev-challenge", "the page does not offer a stand-in it does not accept");
    }

    [Fact]
    public async Task Outbox_WithTheAdminKey_Opens()
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);

        using HttpResponseMessage outbox = await admin.GetAsync("/outbox");

        outbox.StatusCode.Should().Be(HttpStatusCode.OK);
        (await outbox.Content.ReadAsStringAsync()).Should().Contain("Dev outbox");
    }

    [Fact]
    public async Task Outbox_WithAWrongAdminKey_NotFound()
    {
        using SampleHttpClient guesser = new(_app.BaseAddress, "not-the-key");

        using HttpResponseMessage outbox = await guesser.GetAsync("/outbox");

        outbox.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
