using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Keeps the Lua scripts of EmailGuard's Redis components in every server's script cache, so that the first call of a
/// script on a node finds it by SHA instead of meeting <c>NOSCRIPT</c> and sending it again with <c>EVAL</c>: the first
/// window of a flood then costs one script, not two commands and a NOSCRIPT error. Scripts are loaded with
/// <c>SCRIPT LOAD</c> on every connected server when the connection connects, on a server whose connection is
/// established again (a restarted server has an empty cache), on every connected server when the servers'
/// configuration changes (a failover, a new cluster node), and on every connected server for a script registered
/// after the connect.
/// </summary>
/// <remarks>
/// <para>
/// Nothing waits for a load and nothing fails because of one: it is sent in the background, and one that fails is
/// logged at Debug. The runner's NOSCRIPT recovery (<see cref="RedisScriptRunner"/>) stays the one path that makes a
/// call succeed, and covers what a load cannot: a SCRIPT FLUSH after it, calls queued while a server was down and sent
/// as its connection comes back (before the load), a server that refuses SCRIPT LOAD.
/// </para>
/// <para>
/// <see cref="IServer.ScriptLoadAsync(string, CommandFlags)"/> goes to the server it names, so on a cluster each node
/// gets its own; it writes nothing to the keyspace and needs no admin mode. Replicas are loaded too: one promoted by a
/// failover then has the scripts before the client learns of the failover. A load is written on the connection the
/// callers' scripts go by, before any script a caller sends after it, so the first call after the connect finds its
/// script even when it does not wait for the load.
/// </para>
/// </remarks>
internal sealed partial class RedisScriptPreloader
{
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly EventHandler<ConnectionFailedEventArgs> _onConnectionRestored;
    private readonly EventHandler<EndPointEventArgs> _onConfigurationChanged;
    private RedisScript[] _scripts = [];
    private IConnectionMultiplexer? _multiplexer;
    private Task _loading = Task.CompletedTask;

    /// <param name="logger">The connection's logger.</param>
    public RedisScriptPreloader(ILogger logger)
    {
        _logger = logger;
        _onConnectionRestored = OnConnectionRestored;
        _onConfigurationChanged = OnConfigurationChanged;
    }

    /// <summary>Completes when every load started so far has been answered (or failed); for tests.</summary>
    internal Task Loading
    {
        get
        {
            lock (_gate)
            {
                return _loading;
            }
        }
    }

    /// <summary>The scripts kept loaded; for tests.</summary>
    internal IReadOnlyList<RedisScript> Scripts => Snapshot().Scripts;

    /// <summary>
    /// Registers scripts to keep loaded; once connected, loads the new ones on every connected server at once.
    /// </summary>
    /// <param name="scripts">The scripts; one already registered is skipped.</param>
    public void Add(params ReadOnlySpan<RedisScript> scripts)
    {
        List<RedisScript>? added = null;
        IConnectionMultiplexer? multiplexer;
        lock (_gate)
        {
            foreach (RedisScript script in scripts)
            {
                if (!Contains(_scripts, script) && (added is null || !Contains(added, script)))
                {
                    (added ??= []).Add(script);
                }
            }

            if (added is null)
            {
                return;
            }

            _scripts = [.. _scripts, .. added];
            multiplexer = _multiplexer;
        }

        if (multiplexer is not null)
        {
            LoadEverywhere(multiplexer, [.. added], "registered");
        }
    }

    /// <summary>
    /// Starts keeping the scripts loaded on <paramref name="multiplexer"/>'s servers: loads them on every connected
    /// server now and follows reconnects and configuration changes. Never throws: a multiplexer that cannot be
    /// followed only leaves the first calls to the NOSCRIPT recovery.
    /// </summary>
    /// <param name="multiplexer">The connection's multiplexer.</param>
    public void Attach(IConnectionMultiplexer multiplexer)
    {
        RedisScript[] scripts;
        lock (_gate)
        {
            if (_multiplexer is not null)
            {
                return;
            }

            _multiplexer = multiplexer;
            scripts = _scripts;
        }

        try
        {
            // Followed before the first load, so that a server connecting in between is loaded by its event.
            multiplexer.ConnectionRestored += _onConnectionRestored;
            multiplexer.ConfigurationChanged += _onConfigurationChanged;
        }
#pragma warning disable CA1031 // Not following reconnects costs a NOSCRIPT after one, which the runner recovers; never a failed caller.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Exception shown = LogValue.Of(ex);
            Log.ServersFailed(_logger, "connected", shown);
        }

        LoadEverywhere(multiplexer, scripts, "connected");
    }

    /// <summary>Stops following the multiplexer, which may outlive the connection (one registered in the app).</summary>
    public void Detach()
    {
        IConnectionMultiplexer? multiplexer;
        lock (_gate)
        {
            multiplexer = _multiplexer;
        }

        if (multiplexer is null)
        {
            return;
        }

        try
        {
            multiplexer.ConnectionRestored -= _onConnectionRestored;
            multiplexer.ConfigurationChanged -= _onConfigurationChanged;
        }
#pragma warning disable CA1031 // Disposal goes on: a handler left behind only loads scripts again after a reconnect.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Exception shown = LogValue.Of(ex);
            Log.ServersFailed(_logger, "disposed", shown);
        }
    }

    private static bool Contains(IEnumerable<RedisScript> scripts, RedisScript script)
    {
        foreach (RedisScript known in scripts)
        {
            if (string.Equals(known.Text, script.Text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // The subscription connection never runs scripts; under RESP3 the interactive one is the only one.
        (IConnectionMultiplexer? multiplexer, RedisScript[] scripts) = Snapshot();
        if (e.ConnectionType != ConnectionType.Interactive || multiplexer is null || e.EndPoint is not { } endPoint)
        {
            return;
        }

        try
        {
            Load(multiplexer.GetServer(endPoint), scripts, "connection restored");
        }
#pragma warning disable CA1031 // An event handler of the multiplexer must not throw; the runner recovers what this misses.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Exception shown = LogValue.Of(ex);
            Log.LoadFailed(_logger, endPoint, "connection restored", shown);
        }
    }

    private void OnConfigurationChanged(object? sender, EndPointEventArgs e)
    {
        // A failover or a new cluster node: which servers are primaries now is what changed, so every one is loaded.
        (IConnectionMultiplexer? multiplexer, RedisScript[] scripts) = Snapshot();
        if (multiplexer is not null)
        {
            LoadEverywhere(multiplexer, scripts, "configuration changed");
        }
    }

    private (IConnectionMultiplexer? Multiplexer, RedisScript[] Scripts) Snapshot()
    {
        lock (_gate)
        {
            return (_multiplexer, _scripts);
        }
    }

    private void LoadEverywhere(IConnectionMultiplexer multiplexer, RedisScript[] scripts, string reason)
    {
        if (scripts.Length == 0)
        {
            return;
        }

        try
        {
            foreach (IServer server in multiplexer.GetServers())
            {
                Load(server, scripts, reason);
            }
        }
#pragma warning disable CA1031 // A disposed or failing multiplexer: the callers' own commands report it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Exception shown = LogValue.Of(ex);
            Log.ServersFailed(_logger, reason, shown);
        }
    }

    /// <summary>
    /// Sends every script to a connected server, all at once (one round trip), and follows the answers in the
    /// background. A server that is not connected is skipped: its connection's event loads it once it is.
    /// </summary>
    private void Load(IServer server, RedisScript[] scripts, string reason)
    {
        if (scripts.Length == 0 || !server.IsConnected)
        {
            return;
        }

        Task[] loads = new Task[scripts.Length];
        for (int i = 0; i < scripts.Length; i++)
        {
            loads[i] = LoadOneAsync(server, scripts[i]);
        }

        Task answered = AwaitAsync(server.EndPoint, loads, reason);
        lock (_gate)
        {
            _loading = _loading.IsCompleted ? answered : Task.WhenAll(_loading, answered);
        }
    }

    /// <summary>Sends one load; a refusal to send (a disposed multiplexer) becomes its task's failure, observed with the others.</summary>
    private static async Task LoadOneAsync(IServer server, RedisScript script)
        => await server.ScriptLoadAsync(script.Text).ConfigureAwait(false);

    private async Task AwaitAsync(EndPoint endpoint, Task[] loads, string reason)
    {
        try
        {
            await Task.WhenAll(loads).ConfigureAwait(false);
            Log.Loaded(_logger, loads.Length, endpoint, reason);
        }
#pragma warning disable CA1031 // A load that failed leaves that node's first calls to the NOSCRIPT recovery.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Exception shown = LogValue.Of(ex);
            Log.LoadFailed(_logger, endpoint, reason, shown);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2905, EventName = "RedisScriptsLoaded", Level = LogLevel.Debug,
            Message = "EmailGuard loaded its {Count} Redis scripts on {Endpoint} ({Reason}); its calls there find them by SHA.")]
        public static partial void Loaded(ILogger logger, int count, EndPoint endpoint, string reason);

        [LoggerMessage(EventId = 2906, EventName = "RedisScriptLoadFailed", Level = LogLevel.Debug,
            Message = "EmailGuard could not load its Redis scripts on {Endpoint} ({Reason}); the first call of each script there is sent again with EVAL after its NOSCRIPT.")]
        public static partial void LoadFailed(ILogger logger, EndPoint endpoint, string reason, Exception exception);

        [LoggerMessage(EventId = 2907, EventName = "RedisScriptServersFailed", Level = LogLevel.Debug,
            Message = "EmailGuard could not list or follow the Redis servers to load its scripts ({Reason}); the first call of each script on a server is sent again with EVAL after its NOSCRIPT.")]
        public static partial void ServersFailed(ILogger logger, string reason, Exception exception);
    }
}
