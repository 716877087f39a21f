using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A real WebApplication on a TestServer. The client IP comes from the test-only <see cref="ClientIpHeader"/>,
/// which a first middleware turns into <c>Connection.RemoteIpAddress</c>, as a socket would.
/// </summary>
internal sealed class TestApp : IAsyncDisposable
{
    public const string ClientIpHeader = "X-Test-Remote-Ip";

    /// <summary>The test-only header <see cref="UseUserHeader"/> signs a request in with, as a user id claim.</summary>
    public const string UserHeader = "X-Test-User";

    /// <summary>A UTC day boundary, so every fixed window used in tests starts exactly here.</summary>
    public static readonly DateTimeOffset Start = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    private TestApp(WebApplication app, FakeTimeProvider time)
    {
        App = app;
        Time = time;
        Client = app.GetTestClient();
    }

    public WebApplication App { get; }

    public FakeTimeProvider Time { get; }

    public HttpClient Client { get; }

    public FakeLogCollector Logs => App.Services.GetFakeLogCollector();

    public static async Task<TestApp> StartAsync(
        Action<IServiceCollection> configureServices,
        Action<WebApplication> configureApp,
        IDictionary<string, string?>? configuration = null,
        bool useEmailGuard = true,
        FakeTimeProvider? time = null,
        bool useEmailGuardBeforeRouting = false,
        Action<WebApplication>? beforeRouting = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(Options);
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Logging.AddFakeLogging();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        // Apps that stand for several instances of one deployment share a clock, as they share the store.
        time ??= new FakeTimeProvider(Start);
        builder.Services.AddSingleton<TimeProvider>(time);
        configureServices(builder.Services);

        WebApplication app = builder.Build();
        try
        {
            await ConfigureAndStartAsync(app, configureApp, useEmailGuard, useEmailGuardBeforeRouting, beforeRouting);
        }
        catch
        {
            // A start that fails (many tests expect one) still lets go of the host and what it holds.
            await app.DisposeAsync();
            throw;
        }

        return new TestApp(app, time);
    }

    /// <summary>
    /// The options of every test host: no file watching of appsettings (reloads are tested through in-memory
    /// configuration), so a thousand hosts never run into the machine's inotify limit of 128 instances a user.
    /// </summary>
    public static WebApplicationOptions Options => new() { EnvironmentName = "Testing", Args = ["--hostBuilder:reloadConfigOnChange=false"] };

    private static async Task ConfigureAndStartAsync(
        WebApplication app, Action<WebApplication> configureApp, bool useEmailGuard, bool useEmailGuardBeforeRouting, Action<WebApplication>? beforeRouting)
    {
        app.Use((context, next) =>
        {
            if (context.Request.Headers.TryGetValue(ClientIpHeader, out var ip))
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                context.Request.Headers.Remove(ClientIpHeader);
            }

            return next(context);
        });
        beforeRouting?.Invoke(app);
        if (useEmailGuardBeforeRouting)
        {
            app.UseEmailGuard();
        }

        app.UseRouting();
        if (useEmailGuard && !useEmailGuardBeforeRouting)
        {
            app.UseEmailGuard();
        }

        configureApp(app);
        await app.StartAsync();
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, string ip, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation(ClientIpHeader, ip);
        return request;
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string ip, HttpContent? content = null)
        => Client.SendAsync(Request(method, path, ip, content));

    public Task<HttpResponseMessage> PostAsync(string path, string ip, HttpContent? content = null)
        => SendAsync(HttpMethod.Post, path, ip, content);

    public Task<HttpResponseMessage> GetAsync(string path, string ip) => SendAsync(HttpMethod.Get, path, ip);

    /// <summary>Posts to each of <paramref name="paths"/> in turn, from <paramref name="ip"/>, and returns their statuses.</summary>
    public async Task<List<HttpStatusCode>> PostAllAsync(string ip, params string[] paths)
    {
        var statuses = new List<HttpStatusCode>();
        foreach (string path in paths)
        {
            using HttpResponseMessage response = await PostAsync(path, ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }

    /// <summary>Signs each request in as the user its <see cref="UserHeader"/> names, as an authentication handler would.</summary>
    public static void UseUserHeader(IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.Request.Headers.TryGetValue(UserHeader, out var user))
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.ToString())], "test"));
        }

        return next(context);
    });
}
