using System.Net;
using System.Net.Http.Json;
using System.Text;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class BodyFieldTests
{
    private static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder>? extra = null, int maxBodyBytes = 64 * 1024) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(o =>
        {
            o.MaxBodyBytes = maxBodyBytes;
            o.AddPolicy("reset", p =>
            {
                p.PerField("email", RateLimitRule.PerHour(2));
                extra?.Invoke(p);
            });
        }),
        a =>
        {
            a.MapPost("/reset", (ResetRequest body) => Results.Ok(body.Email)).RequireEmailRateLimit("reset");
            a.MapPost("/reset-form", ([FromForm] string email, [FromForm] string? name) => Results.Ok($"{email}|{name}"))
                .RequireEmailRateLimit("reset").DisableAntiforgery();
            a.MapPost("/reset-raw", async (HttpRequest request) =>
            {
                using var reader = new StreamReader(request.Body);
                return Results.Text(await reader.ReadToEndAsync());
            }).RequireEmailRateLimit("reset");
        });

    public sealed record ResetRequest(string Email, string? Name);

    [Fact]
    public async Task JsonField_CaseAndPlusTagVariants_ShareOneCounter()
    {
        await using TestApp app = await StartAsync();
        string[] variants = ["victim@example.com", "Victim@EXAMPLE.com", "victim+1@example.com", " VICTIM+spam@example.com "];

        var statuses = new List<HttpStatusCode>();
        foreach (string variant in variants)
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { email = variant }));
            statuses.Add(response.StatusCode);
        }

        using HttpResponseMessage otherAddress = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { email = "someone@example.com" }));
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        otherAddress.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task JsonField_AllowedRequest_EndpointBindsTheSameBody()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { email = "Victim+x@Example.com", name = "V" }));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadFromJsonAsync<string>()).Should().Be("Victim+x@Example.com");
    }

    [Fact]
    public async Task JsonField_BodyWithByteOrderMark_ReadAndBound()
    {
        await using TestApp app = await StartAsync();
        byte[] body = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("{\"email\":\"bom@example.com\"}")];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");

        using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.1", content);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadFromJsonAsync<string>()).Should().Be("bom@example.com");
    }

    [Fact]
    public async Task JsonField_EndpointReadsRawBody_GetsEveryByte()
    {
        await using TestApp app = await StartAsync();
        string body = "{\"email\":\"a@example.com\",\"padding\":\"" + new string('x', 20_000) + "\"}";

        using HttpResponseMessage response = await app.PostAsync("/reset-raw", "203.0.113.1", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be(body);
    }

    [Fact]
    public async Task FormField_UrlEncoded_CountedAndStillBound()
    {
        await using TestApp app = await StartAsync();

        var statuses = new List<HttpStatusCode>();
        string? bound = null;
        foreach (string email in new[] { "Victim@example.com", "victim+a@example.com", "victim@example.com" })
        {
            using HttpResponseMessage response = await app.PostAsync("/reset-form", "203.0.113.1",
                new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = email, ["name"] = "n" }));
            statuses.Add(response.StatusCode);
            bound ??= await response.Content.ReadFromJsonAsync<string>();
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        bound.Should().Be("Victim@example.com|n");
    }

    [Fact]
    public async Task FormField_Multipart_CountedAndStillBound()
    {
        await using TestApp app = await StartAsync();

        using var content = new MultipartFormDataContent { { new StringContent("victim@example.com"), "email" }, { new StringContent("n"), "name" } };
        using HttpResponseMessage response = await app.PostAsync("/reset-form", "203.0.113.1", content);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadFromJsonAsync<string>()).Should().Be("victim@example.com|n");
    }

    [Fact]
    public async Task OversizedBody_Rejected413BeforeEndpoint()
    {
        await using TestApp app = await StartAsync(maxBodyBytes: 1024);
        string body = "{\"email\":\"a@example.com\",\"padding\":\"" + new string('x', 4096) + "\"}";

        using HttpResponseMessage withLength = await app.PostAsync("/reset", "203.0.113.1", new StringContent(body, Encoding.UTF8, "application/json"));
        using var chunked = new UnknownLengthContent(Encoding.UTF8.GetBytes(body), "application/json");
        using HttpResponseMessage withoutLength = await app.PostAsync("/reset", "203.0.113.1", chunked);

        withLength.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        withLength.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        withoutLength.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task ShadowPolicy_BodyItCannotRead_NeverBlocksAndTheEndpointReadsTheWholeBody()
    {
        await using TestApp app = await StartAsync(p => p.InShadowMode(), maxBodyBytes: 1024);
        string body = "{\"email\":\"a@example.com\",\"padding\":\"" + new string('x', 4096) + "\"}";

        using HttpResponseMessage withLength = await app.PostAsync("/reset-raw", "203.0.113.1", new StringContent(body, Encoding.UTF8, "application/json"));
        using var chunked = new UnknownLengthContent(Encoding.UTF8.GetBytes(body), "application/json");
        using HttpResponseMessage withoutLength = await app.PostAsync("/reset-raw", "203.0.113.1", chunked);
        using HttpResponseMessage plainText = await app.PostAsync("/reset-raw", "203.0.113.1", new StringContent("a@example.com", Encoding.UTF8, "text/plain"));

        withLength.StatusCode.Should().Be(HttpStatusCode.OK, "a shadow policy records, never blocks");
        (await withLength.Content.ReadAsStringAsync()).Should().Be(body);
        withoutLength.StatusCode.Should().Be(HttpStatusCode.OK);
        (await withoutLength.Content.ReadAsStringAsync()).Should().Be(body, "the part the policy read is rewound for the endpoint");
        plainText.StatusCode.Should().Be(HttpStatusCode.OK);
        (await plainText.Content.ReadAsStringAsync()).Should().Be("a@example.com");
    }

    public static TheoryData<string, string> MalformedForms => new()
    {
        // A key over the form reader's 2,048-character limit: it fails after reading part of the body.
        { "application/x-www-form-urlencoded", "email=a@example.com&" + new string('k', 5000) + "=v" },
        // The boundary the header names appears nowhere: the multipart reader reads to the end looking for it.
        { "multipart/form-data; boundary=declared", "--other\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.com\r\n--other--\r\n" + new string(' ', 5000) },
    };

    [Theory]
    [MemberData(nameof(MalformedForms))]
    public async Task ShadowPolicy_FormBodyThatFailsToParse_NeverBlocksAndTheEndpointReadsTheWholeBody(string contentType, string body)
    {
        await using TestApp enforced = await StartAsync();
        await using TestApp shadow = await StartAsync(p => p.InShadowMode());

        using HttpResponseMessage refused = await enforced.PostAsync("/reset-raw", "203.0.113.1", Form(contentType, body));
        using HttpResponseMessage response = await shadow.PostAsync("/reset-raw", "203.0.113.1", Form(contentType, body));

        refused.StatusCode.Should().Be(HttpStatusCode.BadRequest, "the form reader fails on this body");
        response.StatusCode.Should().Be(HttpStatusCode.OK, "a shadow policy records, never blocks");
        (await response.Content.ReadAsStringAsync()).Should().Be(body, "the form reader's failed read is rewound for the endpoint");

        static ByteArrayContent Form(string contentType, string body)
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            return content;
        }
    }

    [Theory]
    [InlineData("application/json", "{\"email\": ", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "[1,2,3]", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "{\"email\":\"a@example.com\"} trailing", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "{\"name\":\"no email\"}", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "{\"email\":42}", HttpStatusCode.BadRequest)]
    [InlineData("text/plain", "email=a@example.com", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/x-www-form-urlencoded", "email=%zz%", HttpStatusCode.OK)]
    public async Task HostileBody_AnswersClientErrorNever500(string contentType, string body, HttpStatusCode expected)
    {
        await using TestApp app = await StartAsync();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using HttpResponseMessage response = await app.PostAsync("/reset-raw", "203.0.113.1", content);

        response.StatusCode.Should().Be(expected);
    }

    [Theory]
    [InlineData("/json")]
    [InlineData(";;;")]
    [InlineData("application/")]
    [InlineData("\u00e4pplication/json")]
    public async Task MalformedContentType_Answers415(string contentType)
    {
        await using TestApp app = await StartAsync();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"email\":\"a@example.com\"}"));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using HttpResponseMessage response = await app.PostAsync("/reset-raw", "203.0.113.1", content);

        ((int)response.StatusCode).Should().BeInRange(400, 499);
    }

    [Fact]
    public async Task MissingField_SkipBehavior_OtherPartitionsStillApply()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("reset", p => p
                .PerField("email", RateLimitRule.PerHour(5))
                .PerClientIp(RateLimitRule.PerHour(1))
                .WhenFieldMissing(MissingFieldBehavior.Skip))),
            a => a.MapPost("/reset", () => Results.Ok()).RequireEmailRateLimit("reset"));

        using HttpResponseMessage first = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { name = "x" }));
        using HttpResponseMessage second = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { name = "x" }));

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task MissingField_DefaultBehavior_Answers400AndLogs()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { name = "x" }));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("email");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 205);
    }

    [Fact]
    public async Task MissingField_ShadowPolicy_NeverBlocksAndOtherPartitionsStillCount()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("reset", p => p
                .PerField("email", RateLimitRule.PerHour(5))
                .PerClientIp(RateLimitRule.PerHour(1))
                .InShadowMode())),
            a => a.MapPost("/reset", () => Results.Ok()).RequireEmailRateLimit("reset"));

        using HttpResponseMessage first = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { name = "x" }));
        using HttpResponseMessage second = await app.PostAsync("/reset", "203.0.113.1", JsonContent.Create(new { name = "x" }));

        first.StatusCode.Should().Be(HttpStatusCode.OK, "a shadow policy records, never blocks, and the field was optional here");
        second.StatusCode.Should().Be(HttpStatusCode.OK);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 202).Should().Be(1, "the client-IP partition still counted both requests");
    }

    [Fact]
    public async Task EmptyBody_DefaultBehavior_Answers400()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage response = await app.PostAsync("/reset-raw", "203.0.113.1");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    /// <summary>
    /// A body sent without a Content-Length (chunked on the wire), so the middleware cannot refuse it before reading:
    /// a StreamContent over a MemoryStream would send the length.
    /// </summary>
    private sealed class UnknownLengthContent : HttpContent
    {
        private readonly byte[] _bytes;

        public UnknownLengthContent(byte[] bytes, string mediaType)
        {
            _bytes = bytes;
            Headers.ContentType = new(mediaType);
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(_bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
