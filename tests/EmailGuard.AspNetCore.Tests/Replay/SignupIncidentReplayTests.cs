using System.Globalization;
using System.Net;
using EmailGuard.AspNetCore.Tests.Replay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The signup incident of issue 15, replayed on simulated time through the real middleware, guard and feedback with the
/// recommended configuration: a bot posts every 1–2 s for 6 hours with addresses that all bounce; a real user signs up
/// about every 5 minutes from their own network; providers report each mail within a minute.
/// </summary>
public sealed class SignupIncidentReplayTests(ITestOutputHelper output)
{
    /// <summary>The targets of issue 15 for each bot shape: the bounce rate stays below the first, real users get at least the second share of their mail.</summary>
    public static readonly TheoryData<BotShape, double, double> Targets = new()
    {
        { BotShape.OneIPv4, 0.02, 0.99 },
        { BotShape.RotatingInOneIPv6Slash64, 0.02, 0.99 },
        { BotShape.SpreadOver1000IPv4, 0.05, 0.95 },
    };

    private const string ChallengeHeader = "X-Test-Challenge";
    private static readonly TimeSpan s_duration = TimeSpan.FromHours(6);

    public enum BotShape
    {
        OneIPv4,
        RotatingInOneIPv6Slash64,
        SpreadOver1000IPv4,
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Replay_RecommendedSignupConfiguration_MeetsTheTargets(BotShape shape, double maxBounceRate, double minRealDelivered)
    {
        ReplayResult result = await RunAsync(shape, instances: 1, store: null);
        Report(output, shape, result);
        AssertTargets(result, maxBounceRate, minRealDelivered);
    }

    internal static void Report(ITestOutputHelper output, BotShape shape, ReplayResult result)
        => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{shape}: bot requests {result.BotRequests}, bot mails {result.BotMails}; real signups {result.RealSignups}, real mails {result.RealMails} ({result.RealDeliveredShare:P2}); bounce rate {result.BounceRate:P2} ({result.BotMails}/{result.BotMails + result.RealMails}); real users challenged {result.RealChallenged}; bot answers {string.Join(", ", result.BotStatuses.OrderBy(p => p.Key).Select(p => $"{(int)p.Key}:{p.Value}"))}"));

    internal static void AssertTargets(ReplayResult result, double maxBounceRate, double minRealDelivered)
    {
        result.BotRequests.Should().BeGreaterThan(10_000, "the bot posts every 1–2 s for 6 hours");
        result.RealSignups.Should().BeInRange(70, 74);
        result.BounceRate.Should().BeLessThan(maxBounceRate);
        result.RealDeliveredShare.Should().BeGreaterThanOrEqualTo(minRealDelivered);
    }

    internal sealed record ReplayResult(
        int BotRequests, int BotMails, int RealSignups, int RealMails, int RealChallenged, Dictionary<HttpStatusCode, int> BotStatuses)
    {
        public double BounceRate => BotMails + RealMails == 0 ? 0 : (double)BotMails / (BotMails + RealMails);

        public double RealDeliveredShare => RealSignups == 0 ? 0 : (double)RealMails / RealSignups;
    }

    private sealed record Sent(DateTimeOffset At, string To, bool Bounces, EmailSendAttribution Attribution);

    /// <summary>
    /// Runs the replay against <paramref name="instances"/> instances of the app behind a round-robin load balancer,
    /// sharing one clock and the store <paramref name="store"/> registers (the in-memory store when null).
    /// </summary>
    internal static async Task<ReplayResult> RunAsync(BotShape shape, int instances, Action<IServiceCollection>? store)
    {
        List<Sent> outbox = [];
        FakeTimeProvider clock = new(TestApp.Start);
        List<TestApp> apps = [];
        try
        {
            for (int i = 0; i < instances; i++)
            {
                apps.Add(await StartInstanceAsync(outbox, clock, store));
            }

            return await ReplayAsync(shape, apps, outbox);
        }
        finally
        {
            foreach (TestApp instance in apps)
            {
                await instance.DisposeAsync();
            }
        }
    }

    private static Task<TestApp> StartInstanceAsync(List<Sent> outbox, FakeTimeProvider clock, Action<IServiceCollection>? store)
        => TestApp.StartAsync(
            services =>
            {
                RecommendedSignup.Add(services);
                store?.Invoke(services);
            },
            a =>
            {
                a.Use((context, next) =>
                {
                    // The app's CAPTCHA check, before EmailGuard: real users solve it, the bot cannot.
                    if (context.Request.Headers[ChallengeHeader] == "solved")
                    {
                        context.Features.Set<IEmailGuardChallengeFeature>(new EmailGuardChallengeFeature(passed: true));
                    }

                    return next(context);
                });
                a.UseEmailGuard();
                a.MapPost("/signup", async (HttpContext context, IEmailSendGuard guard, TimeProvider time) =>
                {
                    string email = context.Request.Query["email"].ToString();
                    EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail
                    {
                        To = [email],
                        Sender = "welcome@app.example",
                        Category = "signup",
                        ClientIp = context.Connection.RemoteIpAddress,
                        EndpointPolicy = "signup",
                    });
                    if (!decision.IsAllowed)
                    {
                        return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
                    }

                    lock (outbox)
                    {
                        outbox.Add(new Sent(time.GetUtcNow(), email, email.EndsWith("@bounce.example", StringComparison.Ordinal), decision.Attribution!));
                    }

                    return Results.Ok();
                }).RequireEmailRateLimit("signup");
            },
            useEmailGuard: false,
            time: clock);

    private static async Task<ReplayResult> ReplayAsync(BotShape shape, List<TestApp> apps, List<Sent> outbox)
    {
        TestApp app = apps[0];
        int served = 0;

        // The load balancer: each request to the next instance.
        TestApp Next() => apps[served++ % apps.Count];

        var random = new Random(15);
        DateTimeOffset start = app.Time.GetUtcNow();
        DateTimeOffset end = start + s_duration;
        DateTimeOffset nextBot = start;
        DateTimeOffset nextReal = start + TimeSpan.FromSeconds(240 + random.Next(120));
        int fed = 0;
        int botRequests = 0, botMails = 0, realSignups = 0, realMails = 0, realChallenged = 0;
        var botStatuses = new Dictionary<HttpStatusCode, int>();
        string[] botIpv4 = Enumerable.Range(0, 1000).Select(i => $"{11 + (i % 200)}.{(i * 37) % 256}.{(i * 101) % 256}.{1 + (i % 250)}").ToArray();

        while (true)
        {
            // Feedback arrives within a minute of each mail: 20–60 s after it went out.
            DateTimeOffset nextFeedback = fed < outbox.Count ? outbox[fed].At + TimeSpan.FromSeconds(20 + (outbox[fed].To.Length % 40)) : DateTimeOffset.MaxValue;
            DateTimeOffset next = new[] { nextBot, nextReal, nextFeedback }.Min();
            if (next >= end && nextFeedback >= end)
            {
                break;
            }

            if (next > app.Time.GetUtcNow())
            {
                app.Time.Advance(next - app.Time.GetUtcNow());
            }

            if (next == nextFeedback)
            {
                Sent mail = outbox[fed++];
                // The provider's webhook lands on any instance.
                IEmailGuardFeedback feedback = apps[fed % apps.Count].App.Services.GetRequiredService<IEmailGuardFeedback>();
                await feedback.RecordAsync(new EmailFeedbackEvent
                {
                    Provider = "ses",
                    ProviderEventId = "evt-" + fed.ToString(CultureInfo.InvariantCulture),
                    Recipient = mail.To,
                    Kind = mail.Bounces ? EmailFeedbackKind.Bounced : EmailFeedbackKind.Delivered,
                    BounceType = mail.Bounces ? EmailBounceType.Permanent : EmailBounceType.None,
                    Timestamp = app.Time.GetUtcNow(),
                    Attribution = mail.Attribution,
                });
            }
            else if (next == nextBot)
            {
                botRequests++;
                string ip = shape switch
                {
                    BotShape.OneIPv4 => "198.51.100.66",
                    BotShape.RotatingInOneIPv6Slash64 => $"2001:db8:bad:1:{random.Next(65536):x}:{random.Next(65536):x}:{random.Next(65536):x}:{random.Next(65536):x}",
                    _ => botIpv4[botRequests % botIpv4.Length],
                };
                int before = outbox.Count;
                using HttpResponseMessage response = await Next().PostAsync($"/signup?email=x{botRequests}{random.Next(1_000_000)}@bounce.example", ip);
                botStatuses[response.StatusCode] = botStatuses.GetValueOrDefault(response.StatusCode) + 1;
                botMails += outbox.Count - before;
                nextBot = next + TimeSpan.FromMilliseconds(1000 + random.Next(1001));
            }
            else
            {
                realSignups++;
                string ip = $"100.{64 + (realSignups / 256)}.{realSignups % 256}.{10 + (realSignups % 200)}";
                string path = $"/signup?email=person{realSignups}@mail.example";
                int before = outbox.Count;
                using HttpResponseMessage first = await Next().PostAsync(path, ip);
                if (first.StatusCode == HttpStatusCode.Forbidden)
                {
                    // Asked for a challenge: the person solves it and submits again.
                    realChallenged++;
                    using HttpRequestMessage again = TestApp.Request(HttpMethod.Post, path, ip);
                    again.Headers.Add(ChallengeHeader, "solved");
                    using HttpResponseMessage second = await Next().Client.SendAsync(again);
                }

                realMails += outbox.Count - before;
                nextReal = next + TimeSpan.FromSeconds(240 + random.Next(121));
            }
        }

        return new ReplayResult(botRequests, botMails, realSignups, realMails, realChallenged, botStatuses);
    }
}
