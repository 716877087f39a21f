using System.Net;
using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests.Registration;

/// <summary>
/// Every public registration method called twice, the way two modules or a helper run twice do it. Each test checks
/// behaviour, not service counts: a mail counts once, a request is decided once, the store is checked once.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class DoubleRegistrationTests(RedisServerFixture redis)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    private static readonly Action<SendGuardOptions> RecipientTwoPerHour = o => o.Recipient.Add(RateLimitRule.PerHour(2));

    private static readonly Action<EmailGuardEndpointOptions> SignupTwoPerHour =
        o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(2)));

    [Fact]
    public async Task AddEmailGuardIdentitySender_Twice_EachMailCountsOnceAndReachesTheSenderOnce()
    {
        CountingIdentitySender inner = new();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        services.AddSingleton<IEmailSender<TestUser>>(inner);
        services.AddEmailGuard().AddSendGuard(RecipientTwoPerHour);
        services.AddEmailGuardIdentitySender<TestUser>();
        services.AddEmailGuardIdentitySender<TestUser>(o => o.ThrowOnDenied = false);
        await using ServiceProvider sp = services.BuildServiceProvider();
        IEmailSender<TestUser> sender = sp.GetRequiredService<IEmailSender<TestUser>>();

        await sender.SendConfirmationLinkAsync(new TestUser("u1"), "victim@example.com", "link");
        await sender.SendPasswordResetLinkAsync(new TestUser("u1"), "victim@example.com", "link");
        await sender.SendPasswordResetLinkAsync(new TestUser("u1"), "victim@example.com", "link");

        inner.Calls.Should().Be(2, "two of three mails fit 2 per hour when each counts once; the third is dropped, as the second call configured");
        (await RecipientCountAsync(sp, "victim@example.com")).Should().Be(2);
    }

    [Fact]
    public async Task AddEmailGuardIdentitySender_SenderReplacedBetweenCalls_DecoratesTheNewSenderOnce()
    {
        CountingIdentitySender first = new();
        CountingIdentitySender second = new();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        services.AddSingleton<IEmailSender<TestUser>>(first);
        services.AddEmailGuard().AddSendGuard(RecipientTwoPerHour);
        services.AddEmailGuardIdentitySender<TestUser>();
        services.AddSingleton<IEmailSender<TestUser>>(second);
        services.AddEmailGuardIdentitySender<TestUser>();
        await using ServiceProvider sp = services.BuildServiceProvider();

        await sp.GetRequiredService<IEmailSender<TestUser>>().SendConfirmationLinkAsync(new TestUser("u1"), "new@example.com", "link");

        (first.Calls, second.Calls).Should().Be((0, 1));
        (await RecipientCountAsync(sp, "new@example.com")).Should().Be(1);
    }

    [Fact]
    public async Task AddEmailGuardAddSendGuardAddGuardedEmailSender_Twice_EachMailCountsOnce()
    {
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        for (int i = 0; i < 2; i++)
        {
            services.AddEmailGuard(o => o.MaxTrackedKeys = 10_000)
                .AddSendGuard(RecipientTwoPerHour)
                .AddGuardedEmailSender<CountingTransport>()
                .AddGuardedEmailSender()
                .AddTenantLimitProvider<NoTenantLimits>();
        }

        await using ServiceProvider sp = services.BuildServiceProvider();
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();
        OutboundEmail mail = new() { To = ["victim@example.com"] };
        EmailContent content = new() { Subject = "s", TextBody = "b" };

        GuardedSendResult first = await sender.TrySendAsync(mail, content);
        GuardedSendResult second = await sender.TrySendAsync(mail, content);
        GuardedSendResult third = await sender.TrySendAsync(mail, content);

        (first.Decision.IsAllowed, second.Decision.IsAllowed, third.Decision.IsAllowed).Should().Be((true, true, false));
        sp.GetRequiredService<IEmailTransport>().Should().BeOfType<CountingTransport>().Which.Sent.Should().Be(2);
        (await RecipientCountAsync(sp, "victim@example.com")).Should().Be(2);
    }

    [Fact]
    public async Task AddRedisStore_Twice_OneStoreAndEachMailCountsOnce()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        Action<RedisRateLimitStoreOptions> configure = o =>
        {
            o.Configuration = redis.ConnectionString;
            o.KeyPrefix = prefix;
            o.UseServerTime = false;
        };
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        services.AddEmailGuard().AddRedisStore(configure).AddSendGuard(RecipientTwoPerHour);
        services.AddEmailGuard().AddRedisStore(configure).AddRedisStore(o => o.KeyPrefix = prefix);
        await using ServiceProvider sp = services.BuildServiceProvider();
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = ["victim@example.com"] });

        decision.IsAllowed.Should().BeTrue();
        sp.GetRequiredService<IRateLimitStore>().GetType().Name.Should().Be("RedisRateLimitStore");
        (await RecipientCountAsync(sp, "victim@example.com")).Should().Be(1);
    }

    [Fact]
    public async Task AddEmailGuardStore_Twice_OneHealthCheckEntry()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard();
        services.AddHealthChecks().AddEmailGuardStore().AddEmailGuardStore(tags: ["ready"]);
        services.AddHealthChecks().AddEmailGuardStore("other-name");
        await using ServiceProvider sp = services.BuildServiceProvider();

        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Keys.Should().BeEquivalentTo([EmailGuardHealthChecksBuilderExtensions.DefaultName, "other-name"]);
        report.Entries[EmailGuardHealthChecksBuilderExtensions.DefaultName].Tags.Should().Equal("ready");
        report.Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task AddEndpointPoliciesAndUseEmailGuard_Twice_EachRequestDecidedOnce()
    {
        await using TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddEmailGuard().AddEndpointPolicies(SignupTwoPerHour).AddEndpointPolicies();
                s.AddEmailGuard().AddEndpointPolicies(SignupTwoPerHour);
            },
            a =>
            {
                a.UseEmailGuard();
                a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup").RequireEmailRateLimit("signup");
            });

        List<HttpStatusCode> statuses = await PostManyAsync(app, "/signup", 3);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Count(r => r.Id.Name == "RequestRejected").Should().Be(1, "one middleware decided the third request");
    }

    [Fact]
    public async Task PathRule_InConfigurationAndInCode_EachRequestCountsOnce()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.PathRules.Add(new EmailGuardPathRule { Endpoint = "POST:/webhook", Limit = 2, Window = TimeSpan.FromMinutes(1) })),
            a => a.MapPost("/webhook", () => Results.Ok()),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/webhook",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "00:01:00",
            });

        List<HttpStatusCode> statuses = await PostManyAsync(app, "/webhook", 3);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PolicyWithTheSameRuleTwice_EachRequestCountsOnceAndTheStricterLimitWins()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy(
                "signup", p => p.PerClientIp(RateLimitRule.PerHour(3), RateLimitRule.PerHour(2), RateLimitRule.PerHour(3)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        List<HttpStatusCode> statuses = await PostManyAsync(app, "/signup", 3);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task AddEndpointPolicies_SamePolicyNameFromTwoDifferentCallbacks_FailsAtStartupNamingThePolicy()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard()
                .AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(2))))
                .AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(5)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        await start.Should().ThrowAsync<ArgumentException>().WithMessage("*'signup' already exists*");
    }

    private static async Task<List<HttpStatusCode>> PostManyAsync(TestApp app, string path, int count)
    {
        List<HttpStatusCode> statuses = [];
        for (int i = 0; i < count; i++)
        {
            using HttpResponseMessage response = await app.PostAsync(path, "203.0.113.9");
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private static async Task<long> RecipientCountAsync(IServiceProvider services, string recipient)
    {
        EmailGuardStatus status = await services.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { Recipient = recipient });
        return status.Usage.Single(u => u.Dimension == EmailGuardDimension.Recipient).Count;
    }

    public sealed record TestUser(string Id);

    private sealed class CountingIdentitySender : IEmailSender<TestUser>
    {
        public int Calls { get; private set; }

        public Task SendConfirmationLinkAsync(TestUser user, string email, string confirmationLink) => Count();

        public Task SendPasswordResetLinkAsync(TestUser user, string email, string resetLink) => Count();

        public Task SendPasswordResetCodeAsync(TestUser user, string email, string resetCode) => Count();

        private Task Count()
        {
            Calls++;
            return Task.CompletedTask;
        }
    }

    private sealed class CountingTransport : IEmailTransport
    {
        public int Sent { get; private set; }

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Sent++;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class NoTenantLimits : ITenantLimitProvider
    {
        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken) => ValueTask.FromResult<TenantLimits?>(null);
    }
}
