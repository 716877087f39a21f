using StackExchange.Redis;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// The connections a Redis fixture hands out: all with the same test configuration, all disposed with the fixture.
/// </summary>
internal sealed class TestMultiplexers
{
    private readonly List<ConnectionMultiplexer> _multiplexers = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// The configuration of a new test connection: <c>AllowAdmin</c> so tests can SCRIPT FLUSH, CLIENT KILL and SCAN,
    /// and <c>AbortOnConnectFail = false</c> so a connection survives a server restart.
    /// </summary>
    public static ConfigurationOptions Configuration(string connectionString)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(connectionString);
        options.AllowAdmin = true;
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        options.SyncTimeout = 10000;
        options.AsyncTimeout = 10000;
        return options;
    }

    /// <summary>Connects with <paramref name="configuration"/> and keeps the multiplexer for <see cref="DisposeAllAsync"/>.</summary>
    public ConnectionMultiplexer Connect(ConfigurationOptions configuration)
    {
        ConnectionMultiplexer multiplexer = ConnectionMultiplexer.Connect(configuration);
        lock (_lock)
        {
            _multiplexers.Add(multiplexer);
        }

        return multiplexer;
    }

    public async Task DisposeAllAsync()
    {
        ConnectionMultiplexer[] multiplexers;
        lock (_lock)
        {
            multiplexers = [.. _multiplexers];
            _multiplexers.Clear();
        }

        foreach (ConnectionMultiplexer multiplexer in multiplexers)
        {
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
