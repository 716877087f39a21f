using System.Net;
using System.Net.Sockets;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Testing;

/// <summary>
/// The start-with-retry path every fixture uses to run its own redis-server: a port taken between choosing it and the
/// server binding it (here by a listener the test holds) must cost one more attempt, not a start that waits on a dead
/// server until it times out.
/// </summary>
public sealed class RedisServerProcessTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task StartAsync_FirstPortTakenByAListener_ComesUpOnAnotherPort()
    {
        string binary = RedisServerBinary();
        using TcpListener taken = new(IPAddress.Loopback, 0);
        taken.Start();
        int takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        List<int> chosen = [];
        int Choose()
        {
            int port = chosen.Count == 0 ? takenPort : RedisServerFixture.FreeTcpPort();
            chosen.Add(port);
            return port;
        }

        using RedisServerProcess server = await RedisServerProcess.StartAsync(binary, [], s_timeout, Choose);

        chosen.Should().HaveCount(2, "the server on the taken port exits at once, and the second attempt gets a port of its own");
        server.Port.Should().NotBe(takenPort).And.Be(chosen[1]);
        server.IsRunning.Should().BeTrue();
        await using ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(server.Endpoint);
        (await multiplexer.GetDatabase().PingAsync()).Should().BeGreaterThanOrEqualTo(TimeSpan.Zero);
    }

    [Fact]
    public async Task StartAsync_EveryPortTaken_FailsAfterItsAttemptsQuotingTheServerLog()
    {
        string binary = RedisServerBinary();
        using TcpListener taken = new(IPAddress.Loopback, 0);
        taken.Start();
        int takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        int attempts = 0;

        Func<Task> act = () => RedisServerProcess.StartAsync(binary, [], s_timeout, () =>
        {
            attempts++;
            return takenPort;
        });

        (await act.Should().ThrowAsync<InvalidOperationException>())
            .Which.Message.Should().Contain("exited").And.Contain("Address already in use", "the failure quotes the server's own log");
        attempts.Should().Be(RedisServerProcess.MaxStartAttempts);
    }

    private static string RedisServerBinary()
        => RedisBinaries.Find("redis-server")
            ?? throw new InvalidOperationException("These tests start their own redis-server: install redis-server (apt-get install redis-server).");
}
