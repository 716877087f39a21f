using System.Net;
using System.Net.Sockets;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Testing;

/// <summary>
/// A TCP proxy in front of the test Redis that can hold the server's replies back on their way to the client, as a
/// slow network or a client too busy to read its socket would: the server has decided, the client has not heard yet.
/// In front of a primary, with a replica as its client, it holds the replication stream: the replica lags, its link up.
/// </summary>
internal sealed class DelayingRedisProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly EndPoint _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;
    private long _replyDelayTicks;
    private TaskCompletionSource? _hold;
    private int _held;

    private DelayingRedisProxy(EndPoint server)
    {
        _server = server;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Gets or sets how long every chunk of replies is held before it is passed on; zero passes them at once.</summary>
    public TimeSpan ReplyDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _replyDelayTicks));
        set => Interlocked.Exchange(ref _replyDelayTicks, value.Ticks);
    }

    /// <summary>Gets how many chunks of replies are held now (one per connection at most).</summary>
    public int RepliesHeld => Volatile.Read(ref _held);

    /// <summary>Gets the port the proxy listens on, on the loopback address.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Starts a proxy to the server <paramref name="fixture"/> runs.</summary>
    public static DelayingRedisProxy Start(RedisServerFixture fixture) => new(fixture.CreateConfiguration().EndPoints[0]);

    /// <summary>Starts a proxy to a server of the test's own.</summary>
    public static DelayingRedisProxy Start(RedisServerProcess server) => new(new IPEndPoint(IPAddress.Loopback, server.Port));

    /// <summary>Holds every reply from now on until <see cref="ReleaseReplies"/>; disposing the proxy drops those held.</summary>
    public void HoldReplies() => Interlocked.CompareExchange(ref _hold, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Passes the replies held, and every later one, on.</summary>
    public void ReleaseReplies() => Interlocked.Exchange(ref _hold, null)?.TrySetResult();

    /// <summary>
    /// Passes the replies held on, and holds every reply read after them, in one step: the client cannot send anything
    /// in answer to the replies passed on whose own reply slips through before the hold. A reply of the same connection
    /// that had not reached the proxy yet is held too.
    /// </summary>
    public void PassHeldRepliesAndHoldTheNext()
        => Interlocked.Exchange(ref _hold, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))?.TrySetResult();

    /// <summary>Connects a multiplexer through the proxy; the fixture disposes of it with its others.</summary>
    public ConnectionMultiplexer Connect(RedisServerFixture fixture)
    {
        ConfigurationOptions configuration = fixture.CreateConfiguration();
        configuration.EndPoints.Clear();
        configuration.EndPoints.Add(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        return ConnectionMultiplexer.Connect(configuration);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_connections)
        {
            foreach (TcpClient connection in _connections)
            {
                connection.Dispose();
            }
        }

        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
            TcpClient server = new();
            await server.ConnectAsync(await ResolveAsync(_server), _stop.Token);
            lock (_connections)
            {
                _connections.Add(client);
                _connections.Add(server);
            }

            _ = PumpAsync(client.GetStream(), server.GetStream(), delayed: false);
            _ = PumpAsync(server.GetStream(), client.GetStream(), delayed: true);
        }
    }

    private static async Task<IPEndPoint> ResolveAsync(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => ip,
        DnsEndPoint dns => new IPEndPoint((await Dns.GetHostAddressesAsync(dns.Host)).First(a => a.AddressFamily == AddressFamily.InterNetwork), dns.Port),
        _ => throw new NotSupportedException($"The proxy cannot reach {endPoint}."),
    };

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool delayed)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                if (delayed && ReplyDelay is { Ticks: > 0 } delay)
                {
                    await Task.Delay(delay, _stop.Token);
                }

                if (delayed && Volatile.Read(ref _hold) is { } hold)
                {
                    Interlocked.Increment(ref _held);
                    try
                    {
                        await hold.Task.WaitAsync(_stop.Token);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _held);
                    }
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The proxy or one side closed: the other side sees its connection drop, as it would without a proxy.
        }
    }
}
