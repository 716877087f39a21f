using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Route values, claims, headers and custom keys that one app looks up as one value (case, width, white space,
/// invisible characters) share one counter, unless the partition is declared case-sensitive.
/// </summary>
public sealed class PartitionValueFoldingTests
{
    [Fact]
    public async Task RouteValuePartition_CaseWidthAndSpaceSpellingsOfOneUser_ShareOneCounter()
    {
        // Arrange: one invitation an hour per user name, which the app looks up case-insensitively.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerRouteValue("name", RateLimitRule.PerHour(1)))),
            a => a.MapPost("/users/{name}/invite", (string name) => Results.Ok(name)).RequireEmailRateLimit("invite"));
        string[] spellings =
        [
            "alice", "Alice", "ALICE", "aLiCe", "alice%20", "%20alice", "%EF%BD%81lice" /* fullwidth a */,
            "ali%C2%ADce" /* soft hyphen */, "ali%E2%80%8Bce" /* zero-width space */, "alic%C3%A9", "alice%E3%80%80" /* ideographic space */,
        ];

        // Act: every spelling from its own IP, as a distributed attack on one victim comes.
        List<HttpStatusCode> statuses = await PostEachAsync(app, spellings.Select(s => $"/users/{s}/invite"));

        // Assert: the first is admitted and every other spelling of alice is over the limit; alicé is another user.
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task RouteValuePartition_CaseSensitive_KeepsCaseVariantsApart()
    {
        // Arrange: short link codes, which the app compares case-sensitively.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
                o.AddPolicy("share", p => p.PerRouteValue("code", PartitionValueComparison.CaseSensitive, RateLimitRule.PerHour(1)))),
            a => a.MapPost("/s/{code}", (string code) => Results.Ok(code)).RequireEmailRateLimit("share"));

        // Act
        List<HttpStatusCode> statuses = await PostEachAsync(app, ["/s/AbC", "/s/abc", "/s/ABC", "/s/AbC%20", "/s/%EF%BC%A1bC", "/s/042", "/s/42"]);

        // Assert: the case variants are three codes; white space, width and numbers still fold.
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task CustomKeyPartition_QueryValueSpellings_ShareOneCounter()
    {
        // Arrange: an endpoint that mails the user named in the query string, keyed with PerKey.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("remind", p => p.PerKey("user", c => c.Request.Query["user"], RateLimitRule.PerHour(1)))),
            a => a.MapPost("/remind", () => Results.Ok()).RequireEmailRateLimit("remind"));
        string[] spellings =
        [
            "Am%C3%A9lie" /* é precomposed */, "Ame%CC%81lie" /* e and a combining acute */, "AM%C3%89LIE", "%00am%C3%A9lie%0A",
            "am%C3%A9lie%E2%80%8E" /* left-to-right mark */, "am%EF%BD%85%CC%81lie" /* fullwidth e, combining acute */,
        ];

        // Act
        List<HttpStatusCode> statuses = await PostEachAsync(app, spellings.Select(s => "/remind?user=" + s));

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, spellings.Length - 1)]);
    }

    [Fact]
    public async Task TenantHeaderAndUserPartitions_CaseVariants_ShareOneCounterUnlessCaseSensitive()
    {
        // Arrange: a tenant header folded by default, and user ids declared case-sensitive.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("tenant", p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(1)));
                o.AddPolicy("user", p => p.PerUser(PartitionValueComparison.CaseSensitive, RateLimitRule.PerHour(1)));
            }),
            a =>
            {
                TestApp.UseUserHeader(a);
                a.UseEmailGuard();
                a.MapPost("/tenant", () => Results.Ok()).RequireEmailRateLimit("tenant");
                a.MapPost("/user", () => Results.Ok()).RequireEmailRateLimit("user");
            },
            useEmailGuard: false);

        async Task<HttpStatusCode> Post(string path, string header, string value)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, path, "203.0.113.1");
            request.Headers.TryAddWithoutValidation(header, value);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            return response.StatusCode;
        }

        // Act
        HttpStatusCode[] tenants = [await Post("/tenant", "X-Tenant", "Acme"), await Post("/tenant", "X-Tenant", "ACME"), await Post("/tenant", "X-Tenant", "acme")];
        HttpStatusCode[] users = [await Post("/user", "X-Test-User", "uid-Ab3"), await Post("/user", "X-Test-User", "uid-aB3"), await Post("/user", "X-Test-User", "uid-Ab3")];

        // Assert
        tenants.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        users.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task CustomKeyPartition_HostileValues_AnsweredNeverThrown()
    {
        // Arrange: a key function that returns whatever the app computed, including what no HTTP request can carry.
        string victim = "Team Inbox é";
        string[] values =
        [
            "Mallory\uD800", "MALLORY\uDC00", "mallory", // unpaired surrogates are dropped
            new string('Z', 100_000), new string('z', 100_000), new string('z', 100_000) + "!", // long values fold and hash
            "\u0000\u0001", "\u200B", "   ", // nothing but control, invisible or space characters: one shared counter
            victim, "H:" + StoreKeyEncoding.Hash(PartitionValueKey.Fold(victim, PartitionValueComparison.IgnoreCase)), // a forged hashed part
        ];
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("k", p => p.PerKey("k", c => values[int.Parse(c.Request.Query["i"]!, System.Globalization.CultureInfo.InvariantCulture)], RateLimitRule.PerHour(1)))),
            a => a.MapPost("/k", () => Results.Ok()).RequireEmailRateLimit("k"));

        // Act
        List<HttpStatusCode> statuses = await PostEachAsync(app, values.Select((_, i) => $"/k?i={i}"));

        // Assert
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK,
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.OK, HttpStatusCode.OK);
    }

    [Fact]
    public async Task RouteValuePartition_DefaultIgnorableSpellings_ShareOneCounter()
    {
        // Arrange: the code points Unicode declares default-ignorable that are not format characters by category: the
        // Hangul fillers (letters), the Khmer inherent vowels (marks) and the reserved ones (unassigned here), which
        // render as nothing, so /users/alice followed by one of them reads as alice to the person it mails.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerRouteValue("name", RateLimitRule.PerHour(1)))),
            a => a.MapPost("/users/{name}/invite", (string name) => Results.Ok(name)).RequireEmailRateLimit("invite"));
        string[] spellings =
        [
            "alice", "alice%E1%85%9F" /* U+115F */, "alice%E1%85%A0" /* U+1160 */, "ali%E3%85%A4ce" /* U+3164 */, "alice%EF%BE%A0" /* U+FFA0 */,
            "alice%E1%9E%B4" /* U+17B4 */, "alice%E2%81%A5" /* U+2065 */, "alice%EF%BF%B0" /* U+FFF0 */,
            "alice%F3%A0%80%80" /* U+E0000 */, "alice%F3%A0%82%80" /* U+E0080 */, "alice%F3%A0%80%81%F3%A0%81%A1" /* tag characters */,
        ];

        // Act
        List<HttpStatusCode> statuses = await PostEachAsync(app, spellings.Select(s => $"/users/{s}/invite"));

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, spellings.Length - 1)]);
    }

    [Fact]
    public void PartitionValueKey_ALongRunOfCombiningMarks_KeepsThirty_SoNormalizationStaysLinear()
    {
        // Arrange: marks of two classes alternating, which normalization sorts by insertion (16,000 pairs took 300 ms),
        // and the halfwidth voiced sound mark, a letter that becomes a mark under NFKC.
        string thirty = "x" + string.Concat(Enumerable.Repeat("\u0301\u0316", 15));
        string longer = "x" + string.Concat(Enumerable.Repeat("\u0301\u0316", 20_000));
        string halfwidth = "x" + string.Concat(Enumerable.Repeat("\u0301\uFF9E", 20_000));

        // Act
        string keptThirty = PartitionValueKey.Fold(thirty, PartitionValueComparison.IgnoreCase);
        string foldedLonger = PartitionValueKey.Fold(longer, PartitionValueComparison.IgnoreCase);
        string foldedHalfwidth = PartitionValueKey.Fold(halfwidth, PartitionValueComparison.IgnoreCase);

        // Assert: a run of 30 is a value as written; past it, the marks are dropped and the spellings share a counter.
        keptThirty.Length.Should().Be(1 + PartitionValueKey.MaxCombiningMarkRun);
        foldedLonger.Length.Should().Be(keptThirty.Length);
        foldedLonger.Should().Be(keptThirty);
        foldedHalfwidth.Length.Should().Be(1 + PartitionValueKey.MaxCombiningMarkRun);
        (PartitionValueKey.Fold("ab" + longer, PartitionValueComparison.IgnoreCase) == "ab" + keptThirty).Should().BeTrue();
    }

    [Fact]
    public void PartitionValueKey_ValueAlreadyFolded_IsKeptNotCopied()
    {
        foreach (string folded in new[] { "alice", "42", "team inbox", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "h:x" })
        {
            PartitionValueKey.Fold(folded, PartitionValueComparison.IgnoreCase).Should().BeSameAs(folded);
        }

        string mixed = "uid-Ab3";
        PartitionValueKey.Fold(mixed, PartitionValueComparison.CaseSensitive).Should().BeSameAs(mixed);
        PartitionValueKey.Fold(mixed, PartitionValueComparison.IgnoreCase).Should().Be("uid-ab3");
        PartitionValueKey.Fold("\u212Aelvin \u017Fon \u03A3\u03C2", PartitionValueComparison.IgnoreCase).Should().Be("kelvin son \u03C3\u03C3");
    }

    [Fact]
    public void PerRouteValue_UndefinedComparison_Throws()
    {
        Action act = () => new EmailGuardEndpointOptions().AddPolicy("p", p => p.PerRouteValue("id", (PartitionValueComparison)7, RateLimitRule.PerHour(1)));

        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("comparison");
    }

    private static async Task<List<HttpStatusCode>> PostEachAsync(TestApp app, IEnumerable<string> paths)
    {
        var statuses = new List<HttpStatusCode>();
        int i = 0;
        foreach (string path in paths)
        {
            using HttpResponseMessage response = await app.PostAsync(path, $"203.0.113.{++i}");
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }
}
