using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Bodies the guard reads as the binder does: compressed, in multipart parts written unusually, with a form charset field.</summary>
public sealed partial class HostileRequestShapeTests
{
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
