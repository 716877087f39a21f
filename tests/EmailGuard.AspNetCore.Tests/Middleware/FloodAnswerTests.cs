using System.Net;
using System.Text;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A flood's denials are answered from caches (the policy's 429 body and Retry-After, the rule's RateLimit value, the
/// client's counter key): every answer must be byte for byte what the uncached path writes, for the second it is
/// written in, whatever a client does to make the caches serve a stale or another client's entry.
/// </summary>
public sealed class FloodAnswerTests
{
    private static readonly RateLimitRule s_rule = RateLimitRule.PerMinute(1);

    public static TheoryData<string, int, long> Answers => new()
    {
        { "flood", StatusCodes.Status429TooManyRequests, 30 },
        { "sign<up>&'é\"\\ +", StatusCodes.Status429TooManyRequests, 1 },
        { "a/b.c", StatusCodes.Status503ServiceUnavailable, 300 },
        { "teapot", StatusCodes.Status418ImATeapot, 86_400 },
        { "p", StatusCodes.Status429TooManyRequests, 299 },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task RejectTooMany_FirstAndCachedAnswers_AreTheUncachedWritersBytes(string policyName, int status, long seconds)
    {
        EndpointGuardState state = State(policyName, status);
        var writer = new RejectionWriter(problemDetails: null);

        // The first answer fills the cache, the second is served from it.
        for (int i = 0; i < 2; i++)
        {
            (await FastAsync(writer, state, policyName, seconds)).Should().Be(await SlowAsync(writer, state, policyName, status, seconds));
        }
    }

    [Fact]
    public async Task RejectTooMany_AsTheRetryAfterAndStatusChange_EachAnswerIsTheOneOfItsSecondAndStatus()
    {
        var writer = new RejectionWriter(problemDetails: null);
        EndpointGuardState flood = State("flood", StatusCodes.Status429TooManyRequests);
        EndpointGuardState reloaded = State("flood", StatusCodes.Status503ServiceUnavailable);
        EmailRateLimitPolicy policy = flood.Policies["flood"];

        // A reload keeps the options' status on a state of its own; the policy's cache is shared here to prove the
        // status is part of what it matches.
        foreach ((EndpointGuardState state, long seconds) in new[] { (flood, 30L), (flood, 30L), (flood, 29L), (flood, 30L), (reloaded, 30L), (flood, 30L), (flood, 1L) })
        {
            string fast = await FastAsync(writer, state, "flood", seconds, policy);
            fast.Should().Be(await SlowAsync(writer, state, "flood", state.Options.RejectionStatusCode, seconds));
            fast.Should().Contain($"Retry-After: {seconds}\n").And.Contain($"\"retryAfter\":{seconds},");
        }
    }

    [Fact]
    public void SetQuotaHeaders_DeniedAsTheSecondsCountDown_RateLimitIsFormattedForEachSecond()
    {
        EndpointGuardState state = State("flood", StatusCodes.Status429TooManyRequests);
        EmailRateLimitPolicy policy = state.Policies["flood"];
        PartitionRequestOwner[] owners = [new(policy, policy.Partitions[0], 0)];
        RateLimitEntry[] entries = [default];

        foreach (long seconds in new[] { 30L, 30L, 29L, 30L, 1L })
        {
            var headers = new HeaderDictionary();
            var decision = new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1), TestApp.Start);

            RateLimitHeaders.SetQuotaHeaders(headers, owners, entries, 1, decision, deniedIndex: 0);

            headers["RateLimit"].ToString().Should().Be($"\"flood.ip.60s\";r=0;t={seconds}");
            headers["RateLimit-Policy"].ToString().Should().Be("\"flood.ip.60s\";q=1;w=60");
        }
    }

    [Fact]
    public void SetQuotaHeaders_SeveralRules_PolicyListsEachItemCommaSeparatedInOrder()
    {
        var options = new EmailGuardEndpointOptions();
        options.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerMinute(2), RateLimitRule.PerHour(10)).PerUser(RateLimitRule.PerDay(50)));
        EmailRateLimitPolicy policy = EndpointGuardState.Create(options).Policies["signup"];
        PartitionRequestOwner[] owners = [new(policy, policy.Partitions[0], 0), new(policy, policy.Partitions[0], 1), new(policy, policy.Partitions[1], 0)];
        RateLimitEntry[] entries =
        [
            new(true, 1, 2, TimeSpan.Zero, TestApp.Start.AddMinutes(1)),
            new(true, 9, 10, TimeSpan.Zero, TestApp.Start.AddHours(1)),
            new(true, 3, 50, TimeSpan.Zero, TestApp.Start.AddDays(1)),
        ];
        var headers = new HeaderDictionary();

        RateLimitHeaders.SetQuotaHeaders(headers, owners, entries, 3, new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, TestApp.Start), deniedIndex: -1);

        headers["RateLimit-Policy"].ToString().Should().Be(
            "\"signup.ip.60s\";q=2;w=60, \"signup.ip.3600s\";q=10;w=3600, \"signup.user.86400s\";q=50;w=86400");
        headers["RateLimit"].ToString().Should().Be("\"signup.ip.60s\";r=1;t=60", "the first of the two rules with one request left");
    }

    [Fact]
    public void KeyFor_ClientsTakingTurns_EachGetsItsOwnKey()
    {
        var options = new EmailGuardEndpointOptions();
        options.AddPolicy("flood", p => p.PerClientIp(s_rule));
        EmailRateLimitPartition partition = EndpointGuardState.Create(options).Policies["flood"].Partitions[0];

        // Same length, one a prefix of the other, the same twice in a row: none may be handed the key built last.
        foreach (string ip in new[] { "203.0.113.7", "203.0.113.7", "203.0.113.8", "203.0.113.78", "203.0.113.7", "2001:db8::/64", "203.0.113.8" })
        {
            partition.KeyFor(ip).Should().Be(partition.KeyPrefix + ip);
        }

        // A partition compiled again under another scope (a path rule of the same builder) builds keys under the new prefix.
        string before = partition.KeyFor("203.0.113.7");
        partition.Compile("r.flood", "flood");
        partition.KeyFor("203.0.113.7").Should().Be(partition.KeyPrefix + "203.0.113.7").And.NotBe(before);
    }

    [Fact]
    public async Task Flood_ThroughTheMiddleware_EveryDenialCarriesTheAnswerOfItsOwnSecond()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("flood", p => p.PerClientIp(s_rule))),
            a => a.MapGet("/flood", () => "ok").RequireEmailRateLimit("flood"));

        // Two clients take turns, each over its limit after its first request, while the clock runs through the window.
        (await app.GetAsync("/flood", "203.0.113.7")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await app.GetAsync("/flood", "203.0.113.8")).StatusCode.Should().Be(HttpStatusCode.OK);
        TimeSpan elapsed = TimeSpan.Zero;
        foreach (TimeSpan step in new[] { 0.2, 0.3, 7.3, 0.1, 12.9, 30, 9.1 }.Select(TimeSpan.FromSeconds))
        {
            app.Time.Advance(step);
            elapsed += step;
            long seconds = (long)Math.Ceiling((TimeSpan.FromMinutes(1) - elapsed).TotalSeconds);
            foreach (string ip in new[] { "203.0.113.7", "203.0.113.8", "203.0.113.7" })
            {
                using HttpResponseMessage response = await app.GetAsync("/flood", ip);

                response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
                response.Headers.GetValues("Retry-After").Should().Equal(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
                response.Headers.GetValues("RateLimit").Should().Equal($"\"flood.ip.60s\";r=0;t={seconds}");
                response.Headers.GetValues("RateLimit-Policy").Should().Equal("\"flood.ip.60s\";q=1;w=60");
                response.Content.Headers.ContentType!.ToString().Should().Be("application/problem+json");
                (await response.Content.ReadAsStringAsync()).Should().Be(
                    "{\"type\":\"https://www.rfc-editor.org/rfc/rfc6585#section-4\",\"title\":\"Too Many Requests\",\"status\":429," +
                    $"\"detail\":\"Too many requests. Try again in {seconds} seconds.\",\"retryAfter\":{seconds},\"policy\":\"flood\"}}");
            }
        }
    }

    private static EndpointGuardState State(string policyName, int status)
    {
        var options = new EmailGuardEndpointOptions { RejectionStatusCode = status };
        options.AddPolicy(policyName, p => p.PerClientIp(s_rule));
        return EndpointGuardState.Create(options);
    }

    /// <summary>The cached path: <see cref="RejectionWriter.RejectTooManyAsync"/>.</summary>
    private static async Task<string> FastAsync(RejectionWriter writer, EndpointGuardState state, string policyName, long seconds, EmailRateLimitPolicy? policy = null)
    {
        DefaultHttpContext context = NewContext();
        await writer.RejectTooManyAsync(context, state, policy ?? state.Policies[policyName], "ip", s_rule, Decision(seconds), seconds);
        return Answer(context);
    }

    /// <summary>The uncached path every answer took before: <see cref="RejectionWriter.RejectAsync"/> with the detail built per request.</summary>
    private static async Task<string> SlowAsync(RejectionWriter writer, EndpointGuardState state, string policyName, int status, long seconds)
    {
        DefaultHttpContext context = NewContext();
        await writer.RejectAsync(context, state, status, policyName, "ip", s_rule, Decision(seconds), $"Too many requests. Try again in {seconds} seconds.");
        return Answer(context);
    }

    private static RateLimitDecision Decision(long seconds)
        => new(RateLimitStatus.LimitExceeded, 0, TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1), TestApp.Start);

    private static DefaultHttpContext NewContext() => new() { Response = { Body = new MemoryStream() } };

    /// <summary>Status, every header in name order and the body, as one string to compare.</summary>
    private static string Answer(DefaultHttpContext context)
    {
        var answer = new StringBuilder().Append(context.Response.StatusCode).Append('\n');
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in context.Response.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            answer.Append(header.Key).Append(": ").Append(header.Value.ToString()).Append('\n');
        }

        byte[] body = ((MemoryStream)context.Response.Body).ToArray();
        return answer.Append(Encoding.UTF8.GetString(body)).Append('\n').Append(Convert.ToHexString(body)).ToString();
    }
}
