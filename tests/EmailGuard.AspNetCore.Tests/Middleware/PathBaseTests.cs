using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An app mounted under a path base (<c>UsePathBase("/app")</c>, as behind a proxy that forwards a prefix). Path rules
/// are written as routes are, without the base, and match the path below it: the app serves <c>/app/api/signup</c> and
/// <c>/api/signup</c> alike, and both count under <c>POST:/api/signup</c>.
/// </summary>
public sealed class PathBaseTests
{
    private static Dictionary<string, string?> Rule(string endpoint, int limit) => new()
    {
        ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = endpoint,
        ["EmailGuard:Endpoints:PathRules:0:Limit"] = limit.ToString(CultureInfo.InvariantCulture),
        ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
        ["EmailGuard:Endpoints:PathRules:0:PartitionBy"] = "Global",
    };

    private static WebApplication Build(Dictionary<string, string?> configuration, bool kestrel = false)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(TestApp.Options);
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Logging.ClearProviders();
        builder.Logging.AddFakeLogging();
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddEmailGuard().AddEndpointPolicies();
        WebApplication app = builder.Build();
        app.UsePathBase("/app");
        app.UseRouting();
        app.UseEmailGuard();
        app.MapPost("/api/signup", () => Results.Ok());
        return app;
    }

    private static async Task<HttpStatusCode> PostAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.PostAsync(path, null);
        return response.StatusCode;
    }

    [Fact]
    public async Task RuleWithoutBase_RequestsWithAndWithoutTheBase_CountInOneCounter()
    {
        // Arrange
        await using WebApplication app = Build(Rule("POST:/api/signup", 2));
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();

        // Act
        HttpStatusCode[] statuses =
        [
            await PostAsync(client, "/app/api/signup"),
            await PostAsync(client, "/api/signup"),
            await PostAsync(client, "/APP/api/signup/"),
            await PostAsync(client, "/api/Signup"),
        ];

        // Assert
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.Services.GetFakeLogCollector().GetSnapshot().Should().NotContain(r => r.Id.Id == 3014);
    }

    [Fact]
    public async Task RuleWrittenWithTheBase_FirstRequestUnderTheBase_WarnsOnceWithTheRuleToWrite()
    {
        // Arrange: the rule an operator copies from the proxy's access log. It matches none of the app's requests, which
        // were served unlimited without a word.
        await using WebApplication app = Build(Rule("POST:/app/api/signup", 1));
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();

        // Act
        HttpStatusCode[] statuses = [await PostAsync(client, "/app/api/signup"), await PostAsync(client, "/app/api/signup")];

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK], "rules match the path below the base");
        app.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 3014).Should().ContainSingle()
            .Which.Message.Should().Contain("'POST:/app/api/signup'").And.Contain("'/app'").And.Contain("'POST:/api/signup'");
    }

    [Fact]
    public async Task RuleBelowTheBase_RequestsUnderTheBase_NoWarning()
    {
        await using WebApplication app = Build(Rule("POST:/api/*", 5));
        await app.StartAsync();
        using HttpClient client = app.GetTestClient();

        (await PostAsync(client, "/app/api/signup")).Should().Be(HttpStatusCode.OK);

        app.Services.GetFakeLogCollector().GetSnapshot().Should().NotContain(r => r.Id.Id == 3014);
    }

    [Theory]
    [InlineData("/app/api/signup")]
    [InlineData("/api/signup")]
    [InlineData("/APP/api/signup")]
    [InlineData("/app//api/signup")]
    [InlineData("/app/./api/signup")]
    [InlineData("/app/%2e/api/signup")]
    [InlineData("/app/x/../api/signup")]
    [InlineData("/app/x/%2e%2e/api/signup")]
    [InlineData("http://localhost/app/api/signup")]
    [InlineData("http://localhost/api/signup")]
    [InlineData("/./app/api/signup")]
    [InlineData("/%61pp/api/signup")]
    [InlineData("/app/%61pi/sign%75p")]
    [InlineData("/app/api/signup/")]
    [InlineData("/app/api/signup/.")]
    [InlineData("/app/api/signup//")]
    [InlineData("/app/api/signup?x=1")]
    [InlineData("/app/api/signup%20")]
    [InlineData("/app/api/signup%E2%80%8B")]
    [InlineData("/app%2Fapi/signup")]
    [InlineData("/app/api%2Fsignup")]
    [InlineData("/app/api/signup;jsessionid=1")]
    [InlineData("/app/api/signup.")]
    [InlineData("//app/api/signup")]
    [InlineData("/app/app/api/signup")]
    public async Task Kestrel_RuleWithoutBase_SpentUnderTheBase_NoSpellingOfThePathReachesTheEndpoint(string target)
    {
        // Arrange: Kestrel itself, spoken to on a socket, so that the request line reaches the server as written
        // (HttpClient and TestServer would normalize dot segments first). A spelling either counts under the rule or is
        // not routed to the endpoint at all (404, 400).
        await using WebApplication app = Build(Rule("POST:/api/signup", 1), kestrel: true);
        await app.StartAsync();
        int port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        (await RawPostAsync(port, "/app/api/signup")).Should().Be(200);

        // Act
        int status = await RawPostAsync(port, target);

        // Assert
        status.Should().NotBe(200);
    }

    private static async Task<int> RawPostAsync(int port, string target)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string statusLine = await reader.ReadLineAsync() ?? "";
        return int.Parse(statusLine.Split(' ')[1], CultureInfo.InvariantCulture);
    }
}
