using System.Net;
using System.Text;
using EmailGuard;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Bodies an attacker paid per delivered mail would try, five times each against one victim under 2 per hour. Whatever
/// the middleware answers, the endpoint must not bind the victim more often than the limit, and nothing answers 5xx.
/// </summary>
public sealed class HostileBodyTests
{
    private const int Attempts = 5;

    public static TheoryData<string, string> JsonBodies()
    {
        string[] bodies =
        [
            """{"\u0065mail":"decoy{i}@attacker.test","email":"victim@example.com"}""",
            """{"email":"decoy{i}@attacker.test","\u0045MAIL":"victim@example.com"}""",
            """{"e\u006Dail":"decoy{i}@attacker.test","EMAIL":"victim@example.com"}""",
            """{"email":["decoy{i}@attacker.test","victim@example.com"]}""",
            """{"email":"decoy{i}@attacker.test" /* c */,"email":"victim@example.com"}""",
            """{"email":"decoy{i}@attacker.test","email":"victim@example.com",}""",
            """{"user":{"email":"decoy{i}@attacker.test"},"email":"victim@example.com"}""",
            """{"email":null,"email":"victim@example.com"}""",
            """{"email":42,"email":"victim@example.com"}""",
            """{"email":{"x":"decoy{i}@attacker.test"},"email":"victim@example.com"}""",
            """{"email":"victim@example.com","name":"x","Email":"decoy{i}@attacker.test"}""",
            """{"email":"decoy{i}@attacker.test","ema\u0131l":"victim@example.com"}""",
            """{"emailAddress":"decoy{i}@attacker.test","email":"victim@example.com"}""",
            """  {"email":"decoy{i}@attacker.test",  "email"  :  "victim@example.com"}  """,
            """{"email":"decoy{i}@attacker.test"}{"email":"victim@example.com"}""",
        ];
        var data = new TheoryData<string, string>();
        foreach (string endpoint in BindingApp.JsonPaths)
        {
            foreach (string body in bodies)
            {
                data.Add(endpoint, body);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(JsonBodies))]
    public async Task HostileJson_VictimNeverBoundBeyondLimit(string endpoint, string body)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts, i => BindingContent.Json(body.Replace("{i}", $"{i}", StringComparison.Ordinal)));

        statuses.Should().OnlyContain(s => (int)s < 500);
        app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2);
    }

    /// <summary>
    /// Spellings MimeKit's <c>MailboxAddress.Parse</c> reads as the victim's address and mails there (an obsolete source
    /// route, a comment in the domain, a bracket or quote left open), which an endpoint without <c>[EmailAddress]</c>
    /// binds. A new relay name, comment or display name per request was a new counter.
    /// </summary>
    [Theory]
    [InlineData("<@relay{i}.test:victim@example.com>")]
    [InlineData("Victim <@relay{i}.test:victim@example.com>")]
    [InlineData("<@a.test,@relay{i}.test:victim@example.com>")]
    [InlineData("victim@example.(c{i})com")]
    [InlineData("x{i} <victim@example.com")]
    [InlineData("\"x{i} <victim@example.com>")]
    public async Task ForgivingMailboxSpelling_VictimNeverBoundBeyondLimit(string address)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> json = await app.PostManyAsync("/min/json", Attempts,
            i => BindingContent.Json($$"""{"email":{{System.Text.Json.JsonSerializer.Serialize(address.Replace("{i}", $"{i}", StringComparison.Ordinal))}}}"""));
        List<HttpStatusCode> form = await app.PostManyAsync("/min/form", Attempts,
            i => BindingContent.Form("email=" + Uri.EscapeDataString(address.Replace("{i}", $"{i + Attempts}", StringComparison.Ordinal))));

        json.Concat(form).Should().OnlyContain(s => (int)s < 500);
        app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2);
    }

    [Theory]
    [InlineData("email=decoy{i}%40attacker.test&EMAIL=victim%40example.com")]
    [InlineData("%65mail=victim%40example.com&email=decoy{i}%40attacker.test")]
    [InlineData("email[0]=victim%40example.com&email=decoy{i}%40attacker.test")]
    [InlineData("email=&email=victim%40example.com")]
    [InlineData("email=victim%40example.com&email=")]
    [InlineData("Input.Email=victim%40example.com&email=decoy{i}%40attacker.test")]
    [InlineData("email=decoy{i}%40attacker.test&&&email=victim%40example.com&")]
    [InlineData("email=decoy{i}%40attacker.test&email+=victim%40example.com")]
    public async Task HostileForm_VictimNeverBoundBeyondLimit(string body)
    {
        foreach (string endpoint in BindingApp.FormPaths)
        {
            await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

            List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts, i => BindingContent.Form(body.Replace("{i}", $"{i}", StringComparison.Ordinal)));

            statuses.Should().OnlyContain(s => (int)s < 500, endpoint);
            app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2, endpoint);
        }
    }

    [Theory]
    [InlineData("/min/form")]
    [InlineData("/mvc/bind/form")]
    [InlineData("/Binding/Form")]
    public async Task MultipartRepeatedField_Refused(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts, i => new MultipartFormDataContent
        {
            { new StringContent($"decoy{i}@attacker.test"), "email" },
            { new StringContent(BindingApp.Victim), "email" },
        });

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Fact]
    public async Task ChunkedJsonDuplicate_Refused()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync("/min/json", Attempts, i =>
        {
            var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($"{{\"email\":\"decoy{i}@attacker.test\",\"email\":\"{BindingApp.Victim}\"}}")));
            content.Headers.ContentType = new("application/json");
            return content;
        });

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [InlineData(60 * 1024, HttpStatusCode.BadRequest)]
    [InlineData(70 * 1024, HttpStatusCode.RequestEntityTooLarge)]
    public async Task DuplicateHiddenAfterPadding_RefusedWhetherOrNotItFits(int padding, HttpStatusCode expected)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));
        string body = $"{{\"email\":\"decoy@attacker.test\",\"pad\":\"{new string('x', padding)}\",\"email\":\"{BindingApp.Victim}\"}}";

        List<HttpStatusCode> statuses = await app.PostManyAsync("/min/json", Attempts, _ => BindingContent.Json(body));

        statuses.Should().OnlyContain(s => s == expected);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/octet-stream")]
    public async Task JsonWithoutJsonContentType_Refused415(string? contentType)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldMissing(MissingFieldBehavior.Skip));

        List<HttpStatusCode> statuses = await app.PostManyAsync("/min/json", Attempts, _ => BindingContent.Raw(Encoding.UTF8.GetBytes($"{{\"email\":\"{BindingApp.Victim}\"}}"), contentType));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.UnsupportedMediaType);
        app.Bound().All.Should().BeEmpty();
    }

    [Fact]
    public async Task CountEach_MoreAddressesThanTheCap_Refused()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldRepeated(RepeatedFieldBehavior.CountEach));
        string atCap = string.Join('&', Enumerable.Range(0, 16).Select(n => $"email=a{n}%40example.com"));
        string overCap = string.Join('&', Enumerable.Range(0, 17).Select(n => $"email=b{n}%40example.com"));

        using HttpResponseMessage allowed = await app.PostAsync("/min/form", "203.0.113.1", BindingContent.Form(atCap));
        using HttpResponseMessage refused = await app.PostAsync("/min/form", "203.0.113.1", BindingContent.Form(overCap));

        allowed.StatusCode.Should().Be(HttpStatusCode.OK);
        refused.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ShadowPolicy_RepeatedField_NeverBlockedButCounted()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).InShadowMode());

        List<HttpStatusCode> statuses = await app.PostManyAsync("/min/json", Attempts,
            i => BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\",\"email\":\"{BindingApp.Victim}\"}}"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 202).Should().Be(Attempts - 2, "the victim's counter saw every request");
    }

    [Fact]
    public async Task CountEach_OneAddressRepeated_CountedOnce()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldRepeated(RepeatedFieldBehavior.CountEach));

        using HttpResponseMessage first = await app.PostAsync("/min/json", "203.0.113.1", BindingContent.Json($"{{\"email\":\"{BindingApp.Victim}\",\"Email\":\"Victim+x@Example.com\"}}"));
        using HttpResponseMessage second = await app.PostAsync("/min/json", "203.0.113.1", BindingContent.Json($"{{\"email\":\"{BindingApp.Victim}\"}}"));
        using HttpResponseMessage third = await app.PostAsync("/min/json", "203.0.113.1", BindingContent.Json($"{{\"email\":\"{BindingApp.Victim}\"}}"));

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.OK);
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }
}
