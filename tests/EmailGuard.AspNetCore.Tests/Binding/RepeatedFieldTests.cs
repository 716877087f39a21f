using System.Net;
using EmailGuard;
using EmailGuard.Testing.Redis;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A body that names the address field twice: model binding keeps the last JSON property (in any letter case) and
/// joins or picks among repeated form fields, so counting the first let the victim be mailed without limit.
/// Every case runs against minimal APIs, MVC and Razor Pages, on each store.
/// </summary>
public abstract class RepeatedFieldTests
{
    private const int Attempts = 6;

    private protected abstract Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy);

    private static void PerAddress(EmailRateLimitPolicyBuilder p) => p.PerField("email", RateLimitRule.PerHour(2));

    private static void PerAddressCountEach(EmailRateLimitPolicyBuilder p)
        => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldRepeated(RepeatedFieldBehavior.CountEach);

    public static TheoryData<string, string> JsonEndpointsAndDecoyNames()
    {
        var data = new TheoryData<string, string>();
        foreach (string endpoint in BindingApp.JsonPaths)
        {
            // The same name twice, and a case variant the binder also accepts.
            data.Add(endpoint, "email");
            data.Add(endpoint, "EMAIL");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(JsonEndpointsAndDecoyNames))]
    public async Task JsonDuplicate_DecoyThenVictim_RefusedBeforeEndpoint(string endpoint, string decoyName)
    {
        await using TestApp app = await StartAsync(PerAddress);

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Json($"{{\"{decoyName}\":\"decoy{i}@attacker.test\",\"email\":\"{BindingApp.Victim}\"}}"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(BindingApp.FormEndpoints), MemberType = typeof(BindingApp))]
    public async Task FormRepeatedField_RefusedBeforeEndpoint(string endpoint)
    {
        await using TestApp app = await StartAsync(PerAddress);

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Form(i % 2 == 0 ? $"email=decoy{i}%40attacker.test&email={BindingApp.Victim}" : $"email={BindingApp.Victim}&email=decoy{i}%40attacker.test"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(BindingApp.JsonEndpoints), MemberType = typeof(BindingApp))]
    public async Task JsonDuplicate_CountEach_VictimBoundOnlyUpToItsLimit(string endpoint)
    {
        await using TestApp app = await StartAsync(PerAddressCountEach);

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\",\"Email\":\"{BindingApp.Victim}\"}}"));

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, Attempts - 2)]);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }

    [Theory]
    [MemberData(nameof(BindingApp.FormEndpoints), MemberType = typeof(BindingApp))]
    public async Task FormRepeatedField_CountEach_EveryAddressCounted(string endpoint)
    {
        await using TestApp app = await StartAsync(PerAddressCountEach);

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Form(i % 2 == 0 ? $"email=decoy{i}%40attacker.test&email={BindingApp.Victim}" : $"email={BindingApp.Victim}&email=decoy{i}%40attacker.test"));

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, Attempts - 2)]);
        app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2);
    }

    [Theory]
    [MemberData(nameof(BindingApp.JsonEndpoints), MemberType = typeof(BindingApp))]
    public async Task AddressList_DecoyBesideTheVictim_RefusedBeforeEndpoint(string endpoint)
    {
        // Arrange: one value that lists a fresh decoy and the victim; System.Net.Mail's MailMessage(from, to) mails both.
        await using TestApp app = await StartAsync(PerAddress);

        // Act
        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Json(i % 2 == 0 ? $"{{\"email\":\"decoy{i}@attacker.test, {BindingApp.Victim}\"}}" : $"{{\"email\":\"{BindingApp.Victim};\\\"x,{i}\\\" <decoy{i}@attacker.test>\"}}"));

        // Assert
        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest, "the field names two addresses");
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(BindingApp.JsonEndpoints), MemberType = typeof(BindingApp))]
    public async Task AddressList_CountEach_VictimBoundOnlyUpToItsLimit(string endpoint)
    {
        // Arrange
        await using TestApp app = await StartAsync(PerAddressCountEach);

        // Act
        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            i => BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test,{BindingApp.Victim}\"}}"));

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, Attempts - 2)]);
    }

    [Fact]
    public async Task JsonDuplicate_CountEach_DecoyAlsoSpent()
    {
        await using TestApp app = await StartAsync(PerAddressCountEach);

        using HttpResponseMessage pair = await app.PostAsync("/min/json", "203.0.113.1",
            BindingContent.Json($"{{\"email\":\"decoy@attacker.test\",\"email\":\"{BindingApp.Victim}\"}}"));
        using HttpResponseMessage decoy1 = await app.PostAsync("/min/json", "203.0.113.2", BindingContent.Json("{\"email\":\"decoy@attacker.test\"}"));
        using HttpResponseMessage decoy2 = await app.PostAsync("/min/json", "203.0.113.3", BindingContent.Json("{\"email\":\"decoy@attacker.test\"}"));

        pair.StatusCode.Should().Be(HttpStatusCode.OK);
        decoy1.StatusCode.Should().Be(HttpStatusCode.OK);
        decoy2.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the pair spent one of the decoy's two permits too");
    }
}

public sealed class InMemoryRepeatedFieldTests : RepeatedFieldTests
{
    private protected override Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy) => BindingApp.StartAsync(policy);
}

[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRepeatedFieldTests(RedisServerFixture redis) : RepeatedFieldTests
{
    private protected override Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy) => BindingApp.StartAsync(policy, redis);
}
