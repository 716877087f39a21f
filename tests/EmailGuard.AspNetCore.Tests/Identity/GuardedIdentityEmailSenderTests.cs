using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests.Identity;

public sealed class GuardedIdentityEmailSenderTests
{
    private static ServiceProvider Build(Action<IServiceCollection> registerSender, Action<IdentityEmailGuardOptions<TestUser>>? configure = null)
    {
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 5, 0, TimeSpan.Zero)));
        registerSender(services);
        services.AddEmailGuard().AddSendGuard(o =>
        {
            o.Categories["identity-confirmation"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1));
            o.User.Add(RateLimitRule.PerHour(10));
        });
        services.AddEmailGuardIdentitySender(configure ?? (o => o.UserId = u => u.Id));
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Confirmation_OverTheCategoryCap_ThrowsAndTheInnerSenderIsNotCalled()
    {
        FakeIdentitySender inner = new();
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(inner));
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        await sender.SendConfirmationLinkAsync(new TestUser("u1"), "new@example.com", "https://app.example/confirm?x");
        Func<Task> second = () => sender.SendConfirmationLinkAsync(new TestUser("u2"), "other@example.com", "https://app.example/confirm?y");

        EmailSendDeniedException denied = (await second.Should().ThrowAsync<EmailSendDeniedException>()).Which;
        denied.Decision.Dimension.Should().Be(EmailGuardDimension.Category);
        inner.Calls.Should().Equal("confirm:new@example.com");
        await sender.SendPasswordResetCodeAsync(new TestUser("u1"), "new@example.com", "123456");
        inner.Calls.Should().HaveCount(2, "password resets have their own category");
    }

    [Fact]
    public async Task Denied_WithThrowOnDeniedOff_IsDroppedQuietly()
    {
        FakeIdentitySender inner = new();
        await using ServiceProvider sp = Build(s => s.AddTransient<IEmailSender<TestUser>>(_ => inner), o => o.ThrowOnDenied = false);
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        await sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");
        await sender.SendConfirmationLinkAsync(new TestUser("u1"), "b@example.com", "link");

        inner.Calls.Should().ContainSingle();
    }

    [Fact]
    public async Task InnerSenderThrows_PermitsAreRefunded()
    {
        FakeIdentitySender inner = new() { Fail = true };
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(inner));
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        Func<Task> failing = () => sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");
        await failing.Should().ThrowAsync<InvalidOperationException>();
        inner.Fail = false;
        await sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");

        inner.Calls.Should().ContainSingle();
    }

    [Fact]
    public async Task InnerSenderCancelledAfterHandingTheMailOver_PermitsStayTaken()
    {
        // The app's sender handed the mail to its provider, then saw a cancellation (its request's abort token, say):
        // the mail may have gone out, so it stays counted.
        FakeIdentitySender inner = new() { CancelAfterSending = true };
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(inner));
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        Func<Task> cancelled = () => sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        inner.CancelAfterSending = false;
        Func<Task> again = () => sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");

        (await again.Should().ThrowAsync<EmailSendDeniedException>()).Which.Decision.Dimension.Should().Be(EmailGuardDimension.Category);
        inner.Calls.Should().ContainSingle("the cancelled send reached the provider and used the hourly confirmation");
    }

    [Fact]
    public async Task ClientHangsUpAndTheInnerSenderWrapsTheCancellation_PermitsStayTaken()
    {
        // The app's sender watches the request's abort token and wraps every failure in an exception of its own: the
        // client's hang-up after the hand-over reaches the guard as an ordinary failure.
        using CancellationTokenSource aborted = new();
        HttpContextAccessor accessor = new() { HttpContext = new DefaultHttpContext { RequestAborted = aborted.Token } };
        FakeIdentitySender inner = new() { AfterSending = () => aborted.Cancel() };
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(inner).AddSingleton<IHttpContextAccessor>(accessor));
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        Func<Task> hungUp = () => sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");
        await hungUp.Should().ThrowAsync<InvalidOperationException>();
        inner.AfterSending = null;
        accessor.HttpContext = new DefaultHttpContext();
        Func<Task> again = () => sender.SendConfirmationLinkAsync(new TestUser("u1"), "a@example.com", "link");

        (await again.Should().ThrowAsync<EmailSendDeniedException>()).Which.Decision.Dimension.Should().Be(EmailGuardDimension.Category);
        inner.Calls.Should().ContainSingle("the send whose client hung up reached the provider and used the hourly confirmation");
    }

    [Fact]
    public async Task ConfirmationCategory_JoinsTheDefaultRiskyCategories_SoTheAccountWideBreakerTightensIt()
    {
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(new FakeIdentitySender()));

        sp.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().Equal(
            ["signup", "identity-confirmation"], "the Identity sender's confirmations are the sign-up confirmations the default names");
    }

    [Fact]
    public async Task ConfirmationCategory_Renamed_JoinsUnderItsName()
    {
        await using ServiceProvider sp = Build(s => s.AddSingleton<IEmailSender<TestUser>>(new FakeIdentitySender()), o => o.ConfirmationCategory = "welcome");

        sp.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().Equal("signup", "welcome");
    }

    [Fact]
    public async Task RiskyCategories_SetInConfigurationOrCode_AreLeftAsSet()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:RiskyCategories:0"] = "invite" })
            .Build();
        await using ServiceProvider configured = Build(s =>
        {
            s.AddSingleton(configuration);
            s.AddSingleton<IEmailSender<TestUser>>(new FakeIdentitySender());
        });
        await using ServiceProvider cleared = Build(s =>
        {
            s.Configure<EmailRatioBreakerOptions>(o => o.RiskyCategories.Clear());
            s.AddSingleton<IEmailSender<TestUser>>(new FakeIdentitySender());
        });

        configured.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().Equal("invite");
        cleared.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().BeEmpty("a list cleared in code turns the breaker off");
    }

    [Fact]
    public async Task SenderRegisteredByType_IsDecorated()
    {
        await using ServiceProvider sp = Build(s => s.AddTransient<IEmailSender<TestUser>, FakeIdentitySender>());

        sp.GetRequiredService<IEmailSender<TestUser>>().GetType().Name.Should().StartWith("GuardedIdentityEmailSender");
    }

    [Fact]
    public void AddEmailGuardIdentitySender_NoSenderRegistered_SaysWhatToRegister()
    {
        ServiceCollection services = new();

        Action add = () => services.AddEmailGuardIdentitySender<TestUser>();

        add.Should().Throw<InvalidOperationException>().WithMessage("*Register yours first*");
    }

    public sealed record TestUser(string Id);

    private sealed class FakeIdentitySender : IEmailSender<TestUser>
    {
        public List<string> Calls { get; } = [];

        public bool Fail { get; set; }

        public bool CancelAfterSending { get; set; }

        /// <summary>Runs once the provider has the mail; the sender then fails with an exception of its own.</summary>
        public Action? AfterSending { get; set; }

        public Task SendConfirmationLinkAsync(TestUser user, string email, string confirmationLink) => Record($"confirm:{email}");

        public Task SendPasswordResetLinkAsync(TestUser user, string email, string resetLink) => Record($"reset-link:{email}");

        public Task SendPasswordResetCodeAsync(TestUser user, string email, string resetCode) => Record($"reset-code:{email}");

        private Task Record(string call)
        {
            if (Fail)
            {
                return Task.FromException(new InvalidOperationException("SMTP down"));
            }

            Calls.Add(call);
            if (AfterSending is { } afterSending)
            {
                afterSending();
                return Task.FromException(new InvalidOperationException("The mail could not be sent: the request was aborted."));
            }

            return CancelAfterSending ? Task.FromCanceled(new CancellationToken(canceled: true)) : Task.CompletedTask;
        }
    }
}
