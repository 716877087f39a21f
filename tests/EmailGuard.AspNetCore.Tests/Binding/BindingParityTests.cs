using System.Net;
using System.Text;
using EmailGuard;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The address is counted where model binding finds it: in a form in whatever charset it declares, in the query
/// string, in the route. Each case is the attacker's: five requests for one victim under 2 per hour, and the measure
/// is how often the endpoint bound the victim.
/// </summary>
public sealed class BindingParityTests
{
    private const int Attempts = 5;

    private static readonly HttpStatusCode[] TwoThenLimited =
        [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests];

    public static TheoryData<string, string> FormsInEveryCharset()
    {
        var data = new TheoryData<string, string>();
        foreach (string endpoint in BindingApp.FormPaths)
        {
            foreach (string charset in new[] { "utf-16", "utf-16BE", "utf-32", "\"utf-16\"", "iso-8859-1" })
            {
                data.Add(endpoint, charset);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FormsInEveryCharset))]
    public async Task FormInDeclaredCharset_SkipMissingField_CountedAsBound(string endpoint, string charset)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldMissing(MissingFieldBehavior.Skip));
        Encoding encoding = Encoding.GetEncoding(charset.Trim('"'));

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, Attempts,
            _ => BindingContent.Form($"email={BindingApp.Victim}", $"application/x-www-form-urlencoded; charset={charset}", encoding));

        if (charset.StartsWith('"'))
        {
            // The form reader does not unquote the charset and falls back to UTF-8, and so does the count: the
            // field is garbled for both, and the endpoint never sees the address.
            app.Bound().Count(BindingApp.Victim).Should().Be(0);
            return;
        }

        statuses.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }

    [Theory]
    [InlineData("utf-16")]
    [InlineData("utf-32")]
    public async Task JsonInDeclaredCharset_CountedAsBound(string charset)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync("/min/json", Attempts,
            _ => BindingContent.Json($"{{\"email\":\"{BindingApp.Victim}\"}}", $"application/json; charset={charset}", Encoding.GetEncoding(charset)));

        statuses.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }

    [Theory]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("text/json")]
    [InlineData("application/vnd.api+json")]
    [InlineData("application/json; charset=\"UTF-8\"")]
    [InlineData("APPLICATION/JSON")]
    public async Task JsonDuplicate_EveryJsonContentType_Refused(string contentType)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));
        Encoding encoding = contentType.Contains("utf-16", StringComparison.Ordinal) ? Encoding.Unicode : Encoding.UTF8;

        List<HttpStatusCode> statuses = await app.PostManyAsync("/mvc/bind/json", Attempts,
            i => BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\",\"email\":\"{BindingApp.Victim}\"}}", contentType, encoding));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [InlineData("application/json; charset=x-no-such-charset")]
    [InlineData("application/x-www-form-urlencoded; charset=x-no-such-charset")]
    public async Task UnknownCharset_NeverCountsAnotherAddress(string contentType)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldMissing(MissingFieldBehavior.Skip));
        string body = contentType.Contains("json", StringComparison.Ordinal) ? $"{{\"email\":\"{BindingApp.Victim}\"}}" : $"email={BindingApp.Victim}";

        List<HttpStatusCode> statuses = await app.PostManyAsync(contentType.Contains("json", StringComparison.Ordinal) ? "/min/json" : "/min/form", Attempts,
            _ => BindingContent.Raw(Encoding.UTF8.GetBytes(body), contentType));

        // JSON in an unknown charset is refused; a form falls back to UTF-8 in the form reader and so in the count.
        statuses.Should().OnlyContain(s => s == HttpStatusCode.UnsupportedMediaType || s == HttpStatusCode.OK || s == HttpStatusCode.TooManyRequests);
        app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2);
    }

    [Theory]
    [MemberData(nameof(BindingApp.QueryEndpoints), MemberType = typeof(BindingApp))]
    public async Task QueryVictimBodyDecoy_Refused(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));
        bool form = endpoint.StartsWith("/Binding", StringComparison.Ordinal) || endpoint.StartsWith("/mvc/plain", StringComparison.Ordinal);

        List<HttpStatusCode> statuses = await app.PostManyAsync($"{endpoint}?email={BindingApp.Victim}", Attempts,
            i => form ? BindingContent.Form($"email=decoy{i}%40attacker.test") : BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\"}}"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(BindingApp.QueryEndpoints), MemberType = typeof(BindingApp))]
    public async Task QueryOnly_CountedAsBound(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync($"{endpoint}?EMAIL=Victim%2Btag%40Example.com", Attempts, _ => null);

        statuses.Should().Equal(TwoThenLimited);
        app.Bound().Count("victim+tag@example.com").Should().Be(2);
    }

    [Theory]
    [MemberData(nameof(BindingApp.QueryEndpoints), MemberType = typeof(BindingApp))]
    public async Task QueryVictimBodyDecoy_CountEach_BothCounted(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldRepeated(RepeatedFieldBehavior.CountEach));
        bool form = endpoint.StartsWith("/Binding", StringComparison.Ordinal) || endpoint.StartsWith("/mvc/plain", StringComparison.Ordinal);

        List<HttpStatusCode> statuses = await app.PostManyAsync($"{endpoint}?email={BindingApp.Victim}", Attempts,
            i => form ? BindingContent.Form($"email=decoy{i}%40attacker.test") : BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\"}}"));

        statuses.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().BeLessThanOrEqualTo(2);
    }

    [Fact]
    public async Task SameAddressInQueryAndForm_CountedOnce()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        // A form with no action attribute posts back to its URL, query string included: a legitimate double.
        using HttpResponseMessage first = await app.PostAsync($"/Binding/Form?email={BindingApp.Victim}", "203.0.113.1", BindingContent.Form("email=VICTIM%40example.com"));
        using HttpResponseMessage second = await app.PostAsync("/Binding/Form", "203.0.113.1", BindingContent.Form($"email={BindingApp.Victim}"));
        using HttpResponseMessage third = await app.PostAsync("/Binding/Form", "203.0.113.1", BindingContent.Form($"email={BindingApp.Victim}"));

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.OK);
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Theory]
    [MemberData(nameof(BindingApp.RouteEndpoints), MemberType = typeof(BindingApp))]
    public async Task RouteVictimBodyDecoy_Refused(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));
        bool form = endpoint.StartsWith("/Binding", StringComparison.Ordinal);

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint + BindingApp.Victim, Attempts,
            i => form ? BindingContent.Form($"email=decoy{i}%40attacker.test") : BindingContent.Json($"{{\"email\":\"decoy{i}@attacker.test\"}}"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        app.Bound().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(BindingApp.RouteEndpoints), MemberType = typeof(BindingApp))]
    public async Task RouteOnly_CountedAsBound(string endpoint)
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint + BindingApp.Victim, Attempts, _ => null);

        statuses.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }

    [Fact]
    public async Task PrefixedModelField_InputDotEmail_CountedAndRepeatsRefused()
    {
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> mixed = await app.PostManyAsync("/Binding/Input", Attempts, i => BindingContent.Form($"email=decoy{i}%40attacker.test&Input.Email={BindingApp.Victim}"));
        List<HttpStatusCode> prefixed = await app.PostManyAsync("/Binding/Input", Attempts, _ => BindingContent.Form($"Input.Email={BindingApp.Victim}"));
        List<HttpStatusCode> model = await app.PostManyAsync("/mvc/bind/model", Attempts, i => BindingContent.Form($"model.email={BindingApp.Victim}&email=decoy{i}%40attacker.test"));

        mixed.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        model.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        prefixed.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }

    [Fact]
    public async Task PrefixedModelField_JQueryBrackets_CountedAndRepeatsRefused()
    {
        // Arrange: MVC's default JQueryFormValueProvider binds Input[Email] as Input.Email, and model[email] as model.email.
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(2)));

        // Act
        List<HttpStatusCode> mixed = await app.PostManyAsync("/Binding/Input", Attempts, i => BindingContent.Form($"email=decoy{i}%40attacker.test&Input%5BEmail%5D={BindingApp.Victim}"));
        List<HttpStatusCode> model = await app.PostManyAsync("/mvc/bind/model", Attempts, i => BindingContent.Form($"model%5Bemail%5D={BindingApp.Victim}&email=decoy{i}%40attacker.test"));
        List<HttpStatusCode> bracketed = await app.PostManyAsync("/Binding/Input", Attempts, _ => BindingContent.Form($"Input%5BEmail%5D={BindingApp.Victim}"));

        // Assert
        mixed.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        model.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        bracketed.Should().Equal(TwoThenLimited);
        app.Bound().Count(BindingApp.Victim).Should().Be(2);
    }
}
