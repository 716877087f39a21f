using System.Diagnostics;
using System.Net;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An app whose Redis is stopped, paused (<c>SIGSTOP</c>), unreachable, rejecting the password or spoken to in TLS on a
/// plain port. Before the fix a check waited for the blocklist refresh, outside the timeout: 6 s per check, up to 21 s
/// for the first. Here 64 send-guard checks and 64 endpoint requests, the very first ones after startup, run at once;
/// each must return within four times the resilience timeout with its failure mode's outcome, and nothing may throw.
/// The clock is the system clock: real sockets time out on it.
/// </summary>
[Collection(HungAndDeadRedisCollection.Name)]
public sealed class HungAndDeadRedisTests(ITestOutputHelper output)
{
    private const int Callers = 64;
    private const string Password = "s3cret-for-tests";
    // 1 s rather than less: some calls wait two timeouts by design (about 1 s at 500 ms), and on a 2-core machine a GC
    // pause or a burst of thread-pool injection under 64 callers adds a constant of up to ~1 s more (a run beside two
    // busy loops and another test run saw 1,846 ms of a 2,000 ms bound at 500 ms; at 250 ms the bound was passed).
    // 4 x 1 s still separates a bounded call from the 6-21 s that unbounded ones took.
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_bound = 4 * s_timeout;
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(60);

    /// <summary>
    /// One run through the same code before any measured one, so that the first measured test does not pay for the JIT
    /// compiling the host, the middleware and the Redis client: a cost of the test process, not of the calls measured.
    /// </summary>
    private static readonly Lazy<Task> s_warmUp = new(async () =>
    {
        await using TestApp app = await StartAppAsync($"127.0.0.1:{RedisServerFixture.FreeTcpPort()}", StoreFailureMode.FailOpen);
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => Task.Run(async () =>
        {
            await CheckAsync(app);
            await RequestAsync(app, $"198.51.100.{i}");
        })));
    });

    public enum RedisFault
    {
        /// <summary>The server was killed before the app started: connection refused.</summary>
        Stopped,

        /// <summary>The server ran when the app started and served it; then it was killed.</summary>
        StoppedWhileRunning,

        /// <summary>The server is frozen with SIGSTOP: connects are accepted by the kernel, nothing answers.</summary>
        Paused,

        /// <summary>No server ever listened on the port.</summary>
        Unreachable,

        /// <summary>The server requires a password and the app gives none.</summary>
        PasswordRequired,

        /// <summary>The app speaks TLS to a plain server.</summary>
        TlsAgainstPlainPort,
    }

    public static TheoryData<RedisFault, StoreFailureMode> Cases()
    {
        TheoryData<RedisFault, StoreFailureMode> cases = [];
        foreach (RedisFault fault in Enum.GetValues<RedisFault>())
        {
            foreach (StoreFailureMode mode in (StoreFailureMode[])[StoreFailureMode.FailOpen, StoreFailureMode.FailClosed, StoreFailureMode.LocalFallback])
            {
                cases.Add(fault, mode);
            }
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ChecksAndRequests_RedisFaulty_EachReturnsWithinFourTimeoutsWithTheModeOutcome(RedisFault fault, StoreFailureMode mode)
    {
        // Arrange
        await s_warmUp.Value.WaitAsync(s_hangGuard);
        using RedisServerProcess? server = fault == RedisFault.Unreachable ? null : await StartServerAsync(fault);
        int port = server?.Port ?? RedisServerFixture.FreeTcpPort();
        string connection = fault switch
        {
            RedisFault.TlsAgainstPlainPort => $"127.0.0.1:{port},ssl=true",
            _ => $"127.0.0.1:{port}",
        };
        if (fault == RedisFault.Stopped)
        {
            server!.Stop();
        }
        else if (fault == RedisFault.Paused)
        {
            server!.Pause();
        }

        await using TestApp app = await StartAppAsync(connection, mode);
        if (fault == RedisFault.StoppedWhileRunning)
        {
            // The app's first call connects and loads the scripts, which a loaded machine can stretch past the timeout
            // (answered by the mode); what is measured is what follows the kill, so wait until the app is on Redis.
            (await WaitForAsync(async () => (await CheckAsync(app)).Decision.Reason == EmailSendReason.Allowed)).Should().NotBeNull("Redis is up");
            (await app.PostAsync("/signup", "203.0.113.1")).StatusCode.Should().Be(HttpStatusCode.OK);
            server!.Stop();
        }

        // Act
        Task<(EmailSendDecision Decision, TimeSpan Duration, Exception? Error)>[] checks =
            [.. Enumerable.Range(0, Callers).Select(_ => Task.Run(() => CheckAsync(app)))];
        Task<(HttpStatusCode Status, TimeSpan Duration, Exception? Error)>[] requests =
            [.. Enumerable.Range(0, Callers).Select(i => Task.Run(() => RequestAsync(app, $"203.0.113.{i + 2}")))];
        var checked_ = await Task.WhenAll(checks).WaitAsync(s_hangGuard);
        var requested = await Task.WhenAll(requests).WaitAsync(s_hangGuard);

        // Assert
        output.WriteLine(
            $"{fault}, {mode}: checks slowest {checked_.Max(c => c.Duration).TotalMilliseconds:0} ms ({Summary(checked_.Select(c => c.Decision.Reason.ToString()))}); "
            + $"requests slowest {requested.Max(r => r.Duration).TotalMilliseconds:0} ms ({Summary(requested.Select(r => r.Status.ToString()))})");
        checked_.Where(c => c.Error is not null).Select(c => c.Error!.ToString()).Should().BeEmpty("no check may throw");
        requested.Where(r => r.Error is not null).Select(r => r.Error!.ToString()).Should().BeEmpty("no request may throw");
        checked_.Should().OnlyContain(c => c.Duration < s_bound, "no check may wait longer than {0}", s_bound);
        requested.Should().OnlyContain(r => r.Duration < s_bound, "no request may wait longer than {0}", s_bound);
        checked_.Should().OnlyContain(c => c.Decision.Reason == ExpectedReason(mode));
        requested.Should().OnlyContain(r => r.Status == ExpectedStatus(mode));

        if (fault == RedisFault.Paused)
        {
            // Resumed, the same app must return to Redis: lists loaded, breaker closed, decisions counted in Redis.
            server!.Resume();
            TimeSpan? recovered = await WaitForAsync(async () =>
                (await CheckAsync(app)).Decision.Reason == EmailSendReason.Allowed
                && app.App.Services.GetRequiredService<GuardStateCache>().Age is not null
                && app.App.Services.GetRequiredService<ResilientRateLimitStore>().CircuitState == StoreCircuitState.Closed);
            output.WriteLine($"resumed: back on Redis after {recovered?.TotalMilliseconds:0} ms");
            recovered.Should().NotBeNull("after SIGCONT the app must use Redis again");
        }
    }

    private static EmailSendReason ExpectedReason(StoreFailureMode mode) => mode switch
    {
        StoreFailureMode.FailOpen => EmailSendReason.AllowedUnguarded,
        StoreFailureMode.FailClosed => EmailSendReason.StoreUnavailable,
        _ => EmailSendReason.Allowed,
    };

    private static HttpStatusCode ExpectedStatus(StoreFailureMode mode)
        => mode == StoreFailureMode.FailClosed ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK;

    private static async Task<RedisServerProcess> StartServerAsync(RedisFault fault)
    {
        string binary = RedisBinaries.Find("redis-server")
            ?? throw new InvalidOperationException("These tests start their own redis-server: install redis-server (apt-get install redis-server).");
        bool password = fault == RedisFault.PasswordRequired;
        return await RedisServerProcess.StartAsync(binary, [], RedisServerFixture.StartTimeout, password: password ? Password : null);
    }

    private static Task<TestApp> StartAppAsync(string connection, StoreFailureMode mode)
        => TestApp.StartAsync(
            s =>
            {
                // Real sockets time out on the real clock; the app's TimeProvider must be the system's for the bound to hold.
                s.AddSingleton(TimeProvider.System);
                s.AddEmailGuard()
                    .AddRedisStore(o =>
                    {
                        o.Configuration = connection;
                        o.KeyPrefix = RedisServerFixture.UniquePrefix();
                    })
                    .AddSendGuard(o =>
                    {
                        o.FailureMode = mode;
                        o.Recipient.Add(RateLimitRule.PerHour(1000));
                    })
                    .AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1000)).WithFailureMode(mode)));
                s.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
            },
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    private static async Task<(EmailSendDecision Decision, TimeSpan Duration, Exception? Error)> CheckAsync(TestApp app)
    {
        IEmailSendGuard guard = app.App.Services.GetRequiredService<IEmailSendGuard>();
        long started = Stopwatch.GetTimestamp();
        try
        {
            EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [$"user{Random.Shared.Next()}@example.com"], TenantId = "acme" });
            return (decision, Stopwatch.GetElapsedTime(started), null);
        }
        catch (Exception ex)
        {
            return (default, Stopwatch.GetElapsedTime(started), ex);
        }
    }

    private static async Task<(HttpStatusCode Status, TimeSpan Duration, Exception? Error)> RequestAsync(TestApp app, string ip)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", ip);
            return (response.StatusCode, Stopwatch.GetElapsedTime(started), null);
        }
        catch (Exception ex)
        {
            return (default, Stopwatch.GetElapsedTime(started), ex);
        }
    }

    private static async Task<TimeSpan?> WaitForAsync(Func<Task<bool>> condition)
    {
        long started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
        {
            if (await condition())
            {
                return Stopwatch.GetElapsedTime(started);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }

        return null;
    }

    private static string Summary(IEnumerable<string> outcomes) => string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Key} {g.Count()}"));
}
