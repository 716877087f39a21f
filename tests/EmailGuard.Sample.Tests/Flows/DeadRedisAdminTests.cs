using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The admin page with Redis unreachable: the list, flag and status APIs give up within the timeout with
/// <see cref="EmailGuardStoreUnavailableException"/>, and the page says so instead of answering 500 after 20 seconds.
/// </summary>
public sealed class DeadRedisAdminTests : IDisposable
{
    /// <summary>Far below the 23 s the page took before, far above the few timeouts a page load may now wait.</summary>
    private static readonly TimeSpan s_loose = TimeSpan.FromSeconds(5);

    private readonly SampleApp _app = SampleApp.Start(new Dictionary<string, string?>
    {
        ["EmailGuard:Redis:Configuration"] = $"127.0.0.1:{ClosedPort()}",
        ["EmailGuard:Redis:KeyPrefix"] = "sample-dead:",
        ["EmailGuard:Resilience:Timeout"] = "00:00:00.250",
    });

    [Fact]
    public async Task AdminPage_RedisUnreachable_ShowsTheStoreIsUnavailable_Quickly()
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);

        long started = Stopwatch.GetTimestamp();
        using HttpResponseMessage page = await admin.GetAsync("/admin");
        TimeSpan took = Stopwatch.GetElapsedTime(started);

        page.StatusCode.Should().Be(HttpStatusCode.OK);
        (await page.Content.ReadAsStringAsync()).Should().Contain("The store is unavailable");
        took.Should().BeLessThan(s_loose);
    }

    [Fact]
    public async Task AdminSuspend_RedisUnreachable_SaysNotDone_Quickly()
    {
        using SampleHttpClient admin = new(_app.BaseAddress, SampleApp.AdminKey);

        long started = Stopwatch.GetTimestamp();
        using HttpResponseMessage response = await admin.SubmitAsync("/admin", "/admin?handler=Suspend", ("tenant", "trial-42"));
        TimeSpan took = Stopwatch.GetElapsedTime(started);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Not done: The EmailGuard state store");
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
