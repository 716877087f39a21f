using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The EmailGuard dashboard in the sample with Redis unreachable: the list, flag and status APIs give up within the
/// timeout with <see cref="EmailGuardStoreUnavailableException"/>, and every page still renders and says the store is
/// down, instead of answering 500 after 20 seconds.
/// </summary>
public sealed class DeadRedisDashboardTests : IDisposable
{
    /// <summary>
    /// Below the 23 s the old admin page took, far above the few 250 ms timeouts a page load may now wait: a page's first
    /// request also compiles it, which a loaded 2-core machine may stretch to seconds.
    /// </summary>
    private static readonly TimeSpan s_loose = TimeSpan.FromSeconds(15);

    private readonly SampleApp _app = SampleApp.Start(new Dictionary<string, string?>
    {
        ["EmailGuard:Redis:Configuration"] = $"127.0.0.1:{ClosedPort()}",
        ["EmailGuard:Redis:KeyPrefix"] = "sample-dead:",
        ["EmailGuard:Resilience:Timeout"] = "00:00:00.250",
    });

    [Theory]
    [InlineData("/emailguard/", "store-unavailable")]
    [InlineData("/emailguard/lists", "store-unavailable")]
    [InlineData("/emailguard/lists?kind=Allowlist&type=ClientNetwork", "store-unavailable")]
    [InlineData("/emailguard/flags", "store-unavailable")]
    [InlineData("/emailguard/events", "store-unavailable")]
    public async Task DashboardPage_RedisUnreachable_RendersAndSaysTheStoreIsDown_Quickly(string path, string noticeId)
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);

        long started = Stopwatch.GetTimestamp();
        using HttpResponseMessage page = await admin.GetAsync(path);
        TimeSpan took = Stopwatch.GetElapsedTime(started);

        page.StatusCode.Should().Be(HttpStatusCode.OK);
        string html = await page.Content.ReadAsStringAsync();
        html.Should().Contain($"class=\"notice bad {noticeId}\"").And.Contain("id=\"page-title\"");
        took.Should().BeLessThan(s_loose);
    }

    [Fact]
    public async Task HealthReady_RedisUnreachable_Unhealthy503OnceTheCircuitOpens()
    {
        // The rate-limit store's circuit opens after a few failed calls, which sign-ups make (the policy fails open).
        using SampleHttpClient client = new(_app.BaseAddress);
        HttpStatusCode status = HttpStatusCode.OK;
        for (int i = 0; i < 200 && status != HttpStatusCode.ServiceUnavailable; i++)
        {
            (await client.SubmitAsync("/signup", "/signup", ("email", $"health-{i}@example.com"))).Dispose();
            using HttpResponseMessage health = await client.GetAsync("/health/ready");
            status = health.StatusCode;
        }

        status.Should().Be(HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task DashboardOverview_RedisUnreachable_StoreCardSaysNotAnswering()
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);
        (await admin.GetAsync("/emailguard/flags")).Dispose();

        using HttpResponseMessage page = await admin.GetAsync("/emailguard/");

        (await page.Content.ReadAsStringAsync()).Should().Contain("Not answering");
    }

    [Fact]
    public async Task DashboardSuspend_RedisUnreachable_SaysNotDone_Quickly()
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);

        long started = Stopwatch.GetTimestamp();
        using HttpResponseMessage response = await admin.SuspendTenantAsync("trial-42");
        TimeSpan took = Stopwatch.GetElapsedTime(started);

        response.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        // The notice travels protected (Data Protection), so the page shows it and the URL does not carry its text.
        response.Headers.Location!.ToString().Should().StartWith("/emailguard/flags?err=").And.NotContain("Not%20done");
        using HttpResponseMessage shown = await admin.GetAsync(response.Headers.Location!.ToString());
        WebUtility.HtmlDecode(await shown.Content.ReadAsStringAsync()).Should().Contain("Not done: The EmailGuard state store");
        took.Should().BeLessThan(s_loose);
    }

    public void Dispose() => _app.Dispose();

    private static int ClosedPort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
