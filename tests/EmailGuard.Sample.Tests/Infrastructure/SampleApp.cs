using System.Net;
using EmailGuard.Sample.Mail;
using EmailGuard.Testing.Time;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// The sample, started in this process on a real Kestrel port on 127.0.0.1, with its own outbox folder and SQLite
/// file so that every test starts from nothing.
/// </summary>
public sealed class SampleApp : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key";

    private readonly Dictionary<string, string?> _settings;
    private readonly string _environment;
    private readonly Action<IServiceCollection>? _services;

    private SampleApp(string directory, IDictionary<string, string?> settings, string environment, Action<IServiceCollection>? services)
    {
        _environment = environment;
        _services = services;
        Directory = directory;
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Sample:DatabasePath"] = Path.Combine(directory, "sample.db"),
            ["Sample:AdminKey"] = AdminKey,
            ["Mail:PickupDirectory"] = OutboxDirectory,
            // Two shared cores under a solution-wide test run can stall a healthy Redis call past the 250 ms default;
            // these tests are about the sample's flows, not about the failure modes (tested in EmailGuard.Tests).
            ["EmailGuard:Resilience:Timeout"] = "00:00:10",
        };
        foreach (KeyValuePair<string, string?> setting in settings)
        {
            _settings[setting.Key] = setting.Value;
        }

        UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>The test's own folder: the SQLite file and the pickup folder live here.</summary>
    public string Directory { get; }

    public string OutboxDirectory => Path.Combine(Directory, "outbox");

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>
    /// Starts a fresh sample; <paramref name="settings"/> override its configuration. Development unless
    /// <paramref name="environment"/> says otherwise (the admin key is configured in every environment);
    /// <paramref name="services"/> replaces services after the sample registered its own (a fake clock, a transport).
    /// </summary>
    public static SampleApp Start(IDictionary<string, string?>? settings = null, string environment = "Development", Action<IServiceCollection>? services = null)
    {
        // The sample counts on the real clock (and its Redis store on the server's, the same machine's) in hourly and
        // daily fixed windows: a flow that fills a limit and then expects the denial would be admitted across the hour's
        // end. The sample starts at least 30 s before the hour ends.
        WindowEnd.ClearOfTheHour();
        string directory = Path.Combine(Path.GetTempPath(), "emailguard-sample-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        SampleApp app = new(directory, settings ?? new Dictionary<string, string?>(), environment, services);
        app.StartServer();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        app.BaseAddress = new Uri(address);
        return app;
    }

    /// <summary>
    /// Waits until the background worker has sent (or failed, or skipped) every queued mail: the forms queue their
    /// mail and answer at once.
    /// </summary>
    public Task MailDrainedAsync() => Services.GetRequiredService<MailQueue>().WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>The .eml files the pickup folder holds.</summary>
    public IReadOnlyList<string> PickedUpMails()
        => System.IO.Directory.Exists(OutboxDirectory) ? System.IO.Directory.GetFiles(OutboxDirectory, "*.eml") : [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        foreach (KeyValuePair<string, string?> setting in _settings)
        {
            // UseSetting reaches the configuration Program reads before Build(), unlike ConfigureAppConfiguration.
            builder.UseSetting(setting.Key, setting.Value);
        }

        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open only leaves a temp folder behind.
        }
    }
}
