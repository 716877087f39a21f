using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An endpoint policy with <see cref="StoreFailureMode.LocalFallback"/>: while the shared store is down, each instance
/// admits its share of the limit; once the breaker lets a probe through and it succeeds, the shared store decides again.
/// </summary>
public sealed class LocalFallbackTests
{
    private const string Ip = "203.0.113.9";

    private static readonly TimeSpan s_breakDuration = new StoreResilienceOptions().BreakDuration;

    private static Task<TestApp> StartInstanceAsync(FaultingRateLimitStore store, FakeTimeProvider? time = null, long limit = 10, int instanceCount = 2)
        => TestApp.StartAsync(
            s =>
            {
                s.AddSingleton<IRateLimitStore>(store);
                s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p
                    .PerClientIp(RateLimitRule.PerHour(limit))
                    .WithFailureMode(StoreFailureMode.LocalFallback)));
            },
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            new Dictionary<string, string?> { ["EmailGuard:Resilience:InstanceCount"] = instanceCount.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            time: time);

    private static async Task<List<HttpStatusCode>> PostTimesAsync(TestApp app, int times, string path = "/signup")
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < times; i++)
        {
            using HttpResponseMessage response = await app.PostAsync(path, Ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task LocalFallback_StoreThrows_AdmitsLimitDividedByInstanceCountThen429()
    {
        var store = new FaultingRateLimitStore(TimeProvider.System) { Behavior = FaultingRateLimitStore.Mode.Throw };
        await using TestApp app = await StartInstanceAsync(store);

        List<HttpStatusCode> statuses = await PostTimesAsync(app, 5);
        using HttpResponseMessage sixth = await app.PostAsync("/signup", Ip);
        using HttpResponseMessage seventh = await app.PostAsync("/signup", Ip);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK, "each of 2 instances holds 10 / 2 = 5 permits while the store is down");
        sixth.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        sixth.Header("Retry-After").Should().Be("3600", "the local window is the same UTC hour the store would use");
        seventh.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        store.Calls.Should().Be(5, "the breaker opens after 5 failures in a row and later requests skip the store");
    }

    [Fact]
    public async Task LocalFallback_StoreThrowsForAnotherClient_CountsEachClientApart()
    {
        var store = new FaultingRateLimitStore(TimeProvider.System) { Behavior = FaultingRateLimitStore.Mode.Throw };
        await using TestApp app = await StartInstanceAsync(store, limit: 4);
        await PostTimesAsync(app, 3);

        using HttpResponseMessage other = await app.PostAsync("/signup", "198.51.100.20");

        other.StatusCode.Should().Be(HttpStatusCode.OK, "local limits keep the policy's partitions");
    }

    [Fact]
    public async Task LocalFallback_StoreBack_BreakerClosesAndInstancesShareDecisionsAgain()
    {
        var time = new FakeTimeProvider(TestApp.Start);
        var store = new FaultingRateLimitStore(time) { Behavior = FaultingRateLimitStore.Mode.Throw };
        await using TestApp first = await StartInstanceAsync(store, time);
        await using TestApp second = await StartInstanceAsync(store, time);

        List<HttpStatusCode> firstDuringOutage = await PostTimesAsync(first, 6);
        List<HttpStatusCode> secondDuringOutage = await PostTimesAsync(second, 6);
        StoreCircuitState duringOutage = first.App.Services.GetRequiredService<ResilientRateLimitStore>().CircuitState;
        store.Behavior = FaultingRateLimitStore.Mode.Up;
        List<HttpStatusCode> beforeTheBreakEnds = await PostTimesAsync(first, 1);
        time.Advance(s_breakDuration);
        List<HttpStatusCode> firstAfterRecovery = await PostTimesAsync(first, 6);
        List<HttpStatusCode> secondAfterRecovery = await PostTimesAsync(second, 4);
        using HttpResponseMessage overTheSharedLimit = await second.PostAsync("/signup", Ip);

        duringOutage.Should().Be(StoreCircuitState.Open);
        firstDuringOutage.Count(s => s == HttpStatusCode.OK).Should().Be(5);
        secondDuringOutage.Count(s => s == HttpStatusCode.OK).Should().Be(5, "the two local shares add up to the limit");
        beforeTheBreakEnds.Should().Equal([HttpStatusCode.TooManyRequests], "the circuit stays open for the break: decisions stay local");
        firstAfterRecovery.Should().Equal(
            [.. Enumerable.Repeat(HttpStatusCode.OK, 5), HttpStatusCode.TooManyRequests],
            "the probe wrote the first instance's 5 local admits back before the shared store decided again");
        secondAfterRecovery.Should().OnlyContain(s => s == HttpStatusCode.TooManyRequests, "the shared store is full; the second instance's write-back found no room");
        overTheSharedLimit.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "both instances counted 10 in the shared store");
        overTheSharedLimit.Header("Retry-After").Should().Be("3595");
        first.App.Services.GetRequiredService<ResilientRateLimitStore>().CircuitState.Should().Be(StoreCircuitState.Closed);
        second.App.Services.GetRequiredService<ResilientRateLimitStore>().CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Fact]
    public async Task LocalFallback_StoreHangs_TimesOutAndLimitsLocally()
    {
        var time = new TimerSignalingTimeProvider(TestApp.Start);
        var store = new FaultingRateLimitStore(time) { Behavior = FaultingRateLimitStore.Mode.Hang };
        await using TestApp app = await StartInstanceAsync(store, time, limit: 4);
        TimeSpan timeout = app.App.Services.GetRequiredService<IOptions<StoreResilienceOptions>>().Value.Timeout;

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++)
        {
            Task<HttpResponseMessage> pending = app.PostAsync("/signup", Ip);
            await time.WaitForTimerAsync(timeout);
            time.Advance(timeout);
            using HttpResponseMessage response = await pending;
            statuses.Add(response.StatusCode);
        }

        store.FailHanging();
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        store.Calls.Should().Be(3, "3 timeouts in a row do not open the circuit yet");
    }

    [Fact]
    public async Task InstanceCount_ZeroInConfiguration_FailsAtStartNamingTheSetting()
    {
        var store = new FaultingRateLimitStore(TimeProvider.System);

        Func<Task> start = () => StartInstanceAsync(store, instanceCount: 0);

        (await start.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*InstanceCount*");
    }

    [Fact]
    public void WithFailureMode_UndefinedValue_Throws()
    {
        var options = new EmailGuardEndpointOptions();

        Action add = () => options.AddPolicy("p", p => p.WithFailureMode((StoreFailureMode)42));

        add.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("failureMode");
    }

    [Theory]
    [InlineData("42")]
    [InlineData("Sometimes")]
    public async Task PathRuleFailureMode_InvalidInConfiguration_FailsAtStartNamingTheSetting(string value)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "*",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "10",
            ["EmailGuard:Endpoints:PathRuleFailureMode"] = value,
        };

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        (await start.Should().ThrowAsync<Exception>()).WithMessage("*PathRuleFailureMode*");
    }

    [Fact]
    public async Task PathRuleFailureMode_UndefinedOnReload_KeepsPreviousRules()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "*",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
        };
        await using TestApp app = await TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), a => a.MapPost("/x", () => Results.Ok()), configuration);

        app.App.Configuration["EmailGuard:Endpoints:PathRuleFailureMode"] = "42";
        Action reload = () => ((IConfigurationRoot)app.App.Configuration).Reload();

        reload.Should().NotThrow("a bad value must never escape into the configuration provider's change callback");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207);
        (await PostTimesAsync(app, 2, "/x")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PathRuleFailureMode_LocalFallbackInConfiguration_LimitsLocallyWhenTheStoreThrows()
    {
        var store = new FaultingRateLimitStore(TimeProvider.System) { Behavior = FaultingRateLimitStore.Mode.Throw };
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "6",
            ["EmailGuard:Endpoints:PathRuleFailureMode"] = "LocalFallback",
            ["EmailGuard:Resilience:InstanceCount"] = "3",
        };
        await using TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddSingleton<IRateLimitStore>(store);
                s.AddEmailGuard().AddEndpointPolicies();
            },
            a => a.MapPost("/api/webhook/incoming", () => Results.Ok()),
            configuration);

        List<HttpStatusCode> statuses = await PostTimesAsync(app, 3, "/api/webhook/incoming");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }
}
