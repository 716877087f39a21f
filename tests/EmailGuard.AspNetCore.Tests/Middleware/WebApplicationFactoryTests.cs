using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>End to end through <see cref="WebApplicationFactory{TEntryPoint}"/> against the load-test app's own Program.</summary>
public sealed class WebApplicationFactoryTests
{
    [Fact]
    public async Task LoadTestApp_SmallLimit_RejectsOverLimitWithHeadersAndLeavesBareEndpointAlone()
    {
        // TestServer gives requests no client address; by default EmailGuard refuses those, so share one bucket here.
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("LoadTest:Limit", "2")
            .UseSetting("EmailGuard:Endpoints:MissingClientIp", "ShareOneBucket"));
        using HttpClient client = factory.CreateClient();

        var guarded = new List<HttpStatusCode>();
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/emailguard");
            guarded.Add(response.StatusCode);
        }

        using HttpResponseMessage last = await client.GetAsync("/emailguard");
        guarded.Add(last.StatusCode);

        var bare = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/bare");
            bare.Add(response.StatusCode);
        }

        guarded.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        last.Header("Retry-After").Should().NotBeNull();
        last.Header("RateLimit").Should().StartWith("\"load.ip.60s\";r=0;");
        bare.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }
}
