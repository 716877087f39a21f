using System.IO.Compression;
using System.Net;
using System.Text;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Request shapes that change what the endpoint binds, or which method it runs as, after the point where the guard
/// looks: a method override, a compressed body, multipart parts written unusually. Each app mails the address it binds;
/// an attacker paid per delivered mail must not get the victim mailed more often than the limit of 1, and nothing
/// answers 5xx.
/// </summary>
public sealed class HostileRequestShapeTests
{
    private const string Victim = BindingApp.Victim;
    private const string Ip = "203.0.113.9";

    private static string VictimJson => $"{{\"email\":\"{Victim}\"}}";

    /// <summary>
    /// An app that mails the bound address at <c>/api/invite</c> (POST only, limited by a path rule per client IP),
    /// <c>/api/share</c> (POST only, a field policy scoped to POST) and <c>/api/any</c> (every method, a path rule).
    /// <paramref name="pipeline"/> places the middleware under test around <c>UseEmailGuard()</c>, after routing.
    /// </summary>
    private static Task<TestApp> StartAsync(Action<IServiceCollection> services, Action<WebApplication> pipeline)
        => TestApp.StartAsync(
            s =>
            {
                s.AddSingleton<BoundValues>();
                s.AddCors(o => o.AddPolicy("any", p => p.AllowAnyOrigin().AllowAnyMethod().AllowAnyHeader()));
                services(s);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                    o.AddPolicy("share", p => p.PerField("email", RateLimitRule.PerHour(1))));
            },
            app =>
            {
                pipeline(app);
                BoundValues bound = app.Services.GetRequiredService<BoundValues>();
                app.MapPost("/api/invite", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
                app.MapPost("/api/invite-form", ([FromForm] string email) => Mail(bound, email)).DisableAntiforgery();
                app.MapPost("/api/share", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email)).RequireEmailRateLimit("share", "POST");
                app.MapPost("/api/share-form", ([FromForm] string email) => Mail(bound, email)).RequireEmailRateLimit("share", "POST").DisableAntiforgery();
                app.Map("/api/any", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
                app.MapPost("/api/cors", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email)).RequireCors("any");
                app.MapMethods("/api/multi", [HttpMethods.Put, HttpMethods.Post], (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
            },
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/invite",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/api/invite-form",
                ["EmailGuard:Endpoints:PathRules:1:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:2:Endpoint"] = "POST:/api/any",
                ["EmailGuard:Endpoints:PathRules:2:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:2:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:3:Endpoint"] = "POST:/api/cors",
                ["EmailGuard:Endpoints:PathRules:3:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:3:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:4:Endpoint"] = "POST:/api/multi",
                ["EmailGuard:Endpoints:PathRules:4:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:4:Window"] = "01:00:00",
            },
            useEmailGuard: false);

    private static IResult Mail(BoundValues bound, string? email)
    {
        bound.Add(email);
        return Results.Ok(email);
    }

    private static async Task<List<HttpStatusCode>> SendAsync(TestApp app, string path, int attempts, Func<int, HttpContent> body, Action<HttpRequestMessage, int>? shape = null)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < attempts; i++)
        {
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, path, Ip, body(i));
            shape?.Invoke(request, i);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    public static TheoryData<string> OverrideMethods => new() { "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "SIGNUP" };

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterRouting_PostPathRuleStillCounts(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/invite", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3053).Should().ContainSingle("the misplaced override is logged once")
            .Which.Message.Should().Contain($"'{method}'").And.Contain("'POST'").And.Contain("UseHttpMethodOverride()");
    }

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterRouting_PolicyScopedToPostStillCounts(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/share", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [InlineData("/api/invite-form")]
    [InlineData("/api/share-form")]
    public async Task MethodOverrideFormField_AfterRouting_StillCounts(string path)
    {
        await using TestApp app = await StartAsync(_ => { },
            a => { a.UseHttpMethodOverride(new HttpMethodOverrideOptions { FormFieldName = "_method" }); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, path, 4,
            i => BindingContent.Form((i == 0 ? "" : "_method=GET&") + "email=" + Uri.EscapeDataString(Victim)));

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    /// <summary>
    /// A preflight is sent to the endpoint of the method it asks for, so a POST rewritten into one after <c>UseCors()</c>
    /// passed as a preflight would have run the POST handler as OPTIONS. An honest preflight is answered by <c>UseCors()</c>
    /// before the guard and counts nothing.
    /// </summary>
    [Fact]
    public async Task MethodOverrideToAPreflight_AfterCors_CountsAsThePost()
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseCors(); a.UseHttpMethodOverride(); a.UseEmailGuard(); });
        using HttpRequestMessage preflight = TestApp.Request(HttpMethod.Options, "/api/cors", Ip);
        preflight.Headers.Add("Origin", "https://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using HttpResponseMessage answered = await app.Client.SendAsync(preflight);

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/cors", 3, _ => BindingContent.Json(VictimJson), (r, i) =>
        {
            r.Headers.Add("Origin", "https://app.example");
            if (i > 0)
            {
                r.Headers.Add("X-HTTP-Method-Override", "OPTIONS");
                r.Headers.Add("Access-Control-Request-Method", "POST");
            }
        });

        answered.StatusCode.Should().Be(HttpStatusCode.NoContent);
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Fact]
    public async Task PreflightReachingTheGuard_BeforeCors_DecidedAsTheMethodItAsksForWithoutWarning()
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseCors(); });

        List<HttpStatusCode> statuses = [];
        foreach (HttpMethod method in (HttpMethod[])[HttpMethod.Options, HttpMethod.Post])
        {
            using HttpRequestMessage request = TestApp.Request(method, "/api/cors", Ip, method == HttpMethod.Post ? BindingContent.Json(VictimJson) : null);
            request.Headers.Add("Origin", "https://app.example");
            request.Headers.Add("Access-Control-Request-Method", "POST");
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal([HttpStatusCode.NoContent, HttpStatusCode.TooManyRequests],
            "routing sent the preflight to the POST endpoint, which would have run its handler had UseCors() not answered; call UseCors() before UseEmailGuard()");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3053, "no middleware rewrote the method");
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("DELETE")]
    public async Task MethodOverrideHeader_AfterRouting_OnAnEndpointOfSeveralMethods_CountsAsThePost(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/multi", 3, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterTheGuard_CountsAsThePost(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseHttpMethodOverride(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/invite", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task MethodOverrideHeader_OnAnEndpointThatTakesEveryMethod_CountsUnderThePostRule(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/any", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    public static TheoryData<string> Encodings => new() { "gzip", "br", "deflate" };

    private static byte[] Compress(string encoding, byte[] raw)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
            "br" => new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true),
            _ => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            compressor.Write(raw);
        }

        return output.ToArray();
    }

    private static ByteArrayContent Compressed(string encoding, string raw, string contentType)
    {
        ByteArrayContent content = BindingContent.Raw(Compress(encoding, Encoding.UTF8.GetBytes(raw)), contentType);
        content.Headers.ContentEncoding.Add(encoding);
        return content;
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task CompressedBody_DecompressedBeforeTheGuard_CountedAsBound(string encoding)
    {
        await using TestApp app = await StartAsync(s => s.AddRequestDecompression(), a => { a.UseRequestDecompression(); a.UseEmailGuard(); });

        List<HttpStatusCode> json = await SendAsync(app, "/api/share", 3, _ => Compressed(encoding, VictimJson, "application/json"));
        List<HttpStatusCode> form = await SendAsync(app, "/api/share-form", 3, _ => Compressed(encoding, "email=" + Uri.EscapeDataString(Victim), "application/x-www-form-urlencoded"));

        json.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        form.Should().Equal(HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task CompressedBody_LargerThanMaxBodyBytesOnceDecompressed_Refused413(string encoding)
    {
        await using TestApp app = await StartAsync(s => s.AddRequestDecompression(), a => { a.UseRequestDecompression(); a.UseEmailGuard(); });
        string padded = $"{{\"email\":\"decoy@attacker.test\",\"pad\":\"{new string('x', 1024 * 1024)}\",\"email\":\"{Victim}\"}}";

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/share", 2, _ => Compressed(encoding, padded, "application/json"));

        statuses.Should().OnlyContain(s => s == HttpStatusCode.RequestEntityTooLarge);
        app.App.Services.GetRequiredService<BoundValues>().All.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task CompressedBody_DecompressedAfterTheGuard_NeverBoundUncounted(string encoding)
    {
        await using TestApp app = await StartAsync(s => s.AddRequestDecompression(), a => { a.UseEmailGuard(); a.UseRequestDecompression(); });

        List<HttpStatusCode> json = await SendAsync(app, "/api/share", 3, _ => Compressed(encoding, VictimJson, "application/json"));
        List<HttpStatusCode> form = await SendAsync(app, "/api/share-form", 3, _ => Compressed(encoding, "email=" + Uri.EscapeDataString(Victim), "application/x-www-form-urlencoded"));

        json.Concat(form).Should().OnlyContain(s => (int)s >= 400 && (int)s < 500);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().BeLessThanOrEqualTo(1);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("x-unknown")]
    [InlineData("identity")]
    public async Task ContentEncoding_TheAppDoesNotDecode_NeverBoundUncounted(string encoding)
    {
        await using TestApp app = await StartAsync(_ => { }, a => a.UseEmailGuard());

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/share", 3, _ =>
        {
            ByteArrayContent content = encoding == "gzip" ? Compressed("gzip", VictimJson, "application/json") : BindingContent.Json(VictimJson);
            content.Headers.ContentEncoding.Add(encoding == "gzip" ? "br" : encoding);
            return content;
        });

        statuses.Should().OnlyContain(s => (int)s < 500);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().BeLessThanOrEqualTo(1);
    }

    private const string Boundary = "b0undary";

    private static ByteArrayContent Multipart(params string[] parts)
    {
        var body = new StringBuilder();
        foreach (string part in parts)
        {
            body.Append("--").Append(Boundary).Append("\r\n").Append(part).Append("\r\n");
        }

        body.Append("--").Append(Boundary).Append("--\r\n");
        return BindingContent.Raw(Encoding.Latin1.GetBytes(body.ToString()), $"multipart/form-data; boundary={Boundary}");
    }

    private static string Part(string disposition, string value, string? headers = null)
        => $"Content-Disposition: form-data; {disposition}\r\n{headers}\r\n{value}";

    public static TheoryData<string, string> MultipartShapes()
    {
        var data = new TheoryData<string, string>();
        foreach (string endpoint in (string[])["/min/form", "/mvc/bind/form", "/Binding/Form"])
        {
            foreach (object?[] shape in MultipartShapesByName())
            {
                data.Add(endpoint, (string)shape[0]!);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MultipartShapes))]
    public async Task MultipartPart_VictimNeverBoundBeyondLimit(string endpoint, string shape)
    {
        string[] parts = ShapeParts(shape);
        await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(1)));

        List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, 4,
            i => Multipart([.. parts.Select(p => p.Replace("{i}", $"{i}", StringComparison.Ordinal))]));

        statuses.Should().OnlyContain(s => (int)s < 500, shape);
        app.Bound().Count(Victim).Should().BeLessThanOrEqualTo(1, $"{shape}; bound: {string.Join(", ", app.Bound().All)}; statuses: {string.Join(", ", statuses)}");
    }

    private static string[] ShapeParts(string shape)
    {
        foreach (object?[] row in MultipartShapesByName())
        {
            if ((string)row[0]! == shape)
            {
                return (string[])row[1]!;
            }
        }

        throw new ArgumentException(shape);
    }

    private static IEnumerable<object?[]> MultipartShapesByName()
    {
        string utf16Victim = Encoding.Latin1.GetString(Encoding.Unicode.GetBytes(Victim));
        string base64Victim = Convert.ToBase64String(Encoding.UTF8.GetBytes(Victim));
        yield return ["rfc5987 name", new[] { Part("name=\"email\"", "decoy{i}@attacker.test"), Part("name*=UTF-8''email", Victim) }];
        yield return ["rfc5987 name only", new[] { Part("name*=UTF-8''email", Victim) }];
        yield return ["rfc5987 beside a decoy name", new[] { Part("name=\"x\"; name*=UTF-8''email", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["name twice, decoy first", new[] { Part("name=\"email\"; name=\"x\"", Victim), Part("name=\"x\"", "decoy{i}@attacker.test") }];
        yield return ["name twice, field second", new[] { Part("name=\"x\"; name=\"email\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["quoted escape", new[] { Part("name=\"em\\\"ail\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["quoted backslash", new[] { Part("name=\"em\\ail\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["file beside a field", new[] { Part("name=\"email\"; filename=\"a.txt\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["file alone", new[] { Part("name=\"email\"; filename=\"a.txt\"", Victim, "Content-Type: text/plain\r\n") }];
        yield return ["file with an empty filename", new[] { Part("name=\"email\"; filename=\"\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["utf-16 part", new[] { Part("name=\"email\"", utf16Victim, "Content-Type: text/plain; charset=utf-16\r\n") }];
        yield return ["base64 part", new[] { Part("name=\"email\"", base64Victim, "Content-Transfer-Encoding: base64\r\n") }];
        yield return ["quoted-printable part", new[] { Part("name=\"email\"", "victim=40example.com", "Content-Transfer-Encoding: quoted-printable\r\n") }];
        yield return ["two dispositions", new[] { $"Content-Disposition: form-data; name=\"x\"\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{Victim}", Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["attachment disposition", new[] { $"Content-Disposition: attachment; name=\"email\"\r\n\r\n{Victim}", Part("name=\"email\"", "decoy{i}@attacker.test") }];
        yield return ["upper-case name key", new[] { Part("NAME=\"email\"", Victim), Part("name=\"email\"", "decoy{i}@attacker.test") }];
    }

    [Theory]
    [InlineData("_charset_=utf-16&email=victim%40example.com")]
    [InlineData("email=victim%40example.com&_charset_=iso-8859-1")]
    [InlineData("_charset_=utf-7&email=decoy{i}%40attacker.test&%2Bemail=victim%40example.com")]
    public async Task CharsetFieldInUrlEncodedForm_VictimNeverBoundBeyondLimit(string body)
    {
        foreach (string endpoint in BindingApp.FormPaths)
        {
            await using TestApp app = await BindingApp.StartAsync(p => p.PerField("email", RateLimitRule.PerHour(1)));

            List<HttpStatusCode> statuses = await app.PostManyAsync(endpoint, 4, i => BindingContent.Form(body.Replace("{i}", $"{i}", StringComparison.Ordinal)));

            statuses.Should().OnlyContain(s => (int)s < 500, endpoint);
            app.Bound().Count(Victim).Should().BeLessThanOrEqualTo(1, endpoint);
        }
    }
}
