using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A denial is a strike toward the escalating ban whether or not the client stays for its 429: a bot that hangs up as
/// soon as its request is decided (fire and forget: it never reads the answer) used to lose every strike, because the
/// strike was counted on <see cref="HttpContext.RequestAborted"/> after the answer was written, and kept the policy's
/// full rate forever instead of being shut out for hours (found by a hostile review).
/// </summary>
public sealed class HostileBanEvasionTests
{
    private const string Ip = "203.0.113.7";

    /// <remarks>The case that reads its answers is the control: it passes on main, so the harness does ban.</remarks>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DenialsOfAClientThatHangsUpBeforeReadingThe429_StillCountTowardTheBan(bool hangsUp)
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnBanStarted = args =>
                {
                    lock (bans)
                    {
                        bans.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("signup", p => p
                    .PerClientIp(RateLimitRule.PerHour(1))
                    .WithEscalatingBan(b =>
                    {
                        b.MaxDenials = 3;
                        b.Within = TimeSpan.FromMinutes(10);
                        b.BanFor = TimeSpan.FromHours(1);
                    }));
            }),
            a =>
            {
                // The client hangs up once the server has decided and starts to answer, as Kestrel reports a reset.
                a.Use((context, next) =>
                {
                    var gone = new CancellationTokenSource();
                    context.Features.Set<IHttpRequestLifetimeFeature>(new HungUp(gone));
                    if (hangsUp)
                    {
                        context.Response.OnStarting(() =>
                        {
                            gone.Cancel();
                            return Task.CompletedTask;
                        });
                    }

                    context.Response.RegisterForDispose(gone);
                    return next(context);
                });
                a.UseEmailGuard();
                a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
            },
            useEmailGuard: false);

        for (int i = 0; i < 8; i++)
        {
            try
            {
                using HttpResponseMessage response = await app.PostAsync("/signup", Ip);
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException)
            {
                // The bot does not read its answers.
            }
        }

        bans.Should().ContainSingle("seven denials within ten minutes are more than the three that start a ban, whether or not the client read them");
    }

    private sealed class HungUp(CancellationTokenSource gone) : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted { get => gone.Token; set { } }

        public void Abort() => gone.Cancel();
    }
}
