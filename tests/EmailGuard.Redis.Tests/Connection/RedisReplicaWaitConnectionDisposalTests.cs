using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Connection;

/// <summary>
/// The replica-wait connection (<see cref="RedisConnection.ReplicaWaitConnection"/>) is made on first use: one made
/// while its owner is disposed must not outlive it. Nothing here connects (a connection connects on its first command).
/// </summary>
public sealed class RedisReplicaWaitConnectionDisposalTests
{
    [Fact]
    public async Task ReplicaWaitConnection_MadeWhileItsOwnerIsDisposed_IsClosedToo()
    {
        // Arrange: many owners, each asked for its replica-wait connection while another thread disposes it.
        const int Rounds = 2_000;
        ConfigurationOptions configuration = ConfigurationOptions.Parse("127.0.0.1:1");
        int handedOut = 0;
        int leftOpen = 0;

        // Act
        for (int round = 0; round < Rounds; round++)
        {
            RedisConnection owner = new(new RedisRateLimitStoreOptions { KeyPrefix = "h121:", ConfigurationOptions = configuration }, null, null);
            StartLine start = new();
            Task<RedisConnection?> asking = Task.Run(() =>
            {
                start.Wait();
                try
                {
                    return owner.ReplicaWaitConnection;
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
            });
            Task disposing = Task.Run(() =>
            {
                start.Wait();
                owner.Dispose();
            });
            start.Go();
            await Task.WhenAll(asking, disposing);

            if (await asking is { } dedicated)
            {
                handedOut++;

                // A disposed connection refuses to make one of its own; a live one makes it (nothing connects).
                try
                {
                    dedicated.ReplicaWaitConnection.Dispose();
                    leftOpen++;
                    dedicated.Dispose();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        // Assert
        leftOpen.Should().Be(0, $"every replica-wait connection handed out ({handedOut} of {Rounds}) is closed with its owner");
    }

    /// <summary>
    /// Both threads spin until both are ready and the test says go, so they start within a few instructions of each
    /// other (a blocking barrier wakes one of them long after the other ran).
    /// </summary>
    private sealed class StartLine
    {
        private int _ready;
        private volatile bool _go;

        public void Wait()
        {
            Interlocked.Increment(ref _ready);
            SpinWait spin = default;
            while (!_go)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }

        public void Go()
        {
            SpinWait spin = default;
            while (Volatile.Read(ref _ready) < 2)
            {
                spin.SpinOnce();
            }

            _go = true;
        }
    }
}
