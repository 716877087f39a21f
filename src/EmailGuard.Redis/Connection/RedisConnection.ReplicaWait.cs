using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The second connection that writes waiting for replicas go over (<see cref="ReplicaWaitConnection"/>), so that a
/// <c>WAIT</c> for a lagging replica never holds the connection every other call of the instance shares.
/// </summary>
internal sealed partial class RedisConnection
{
    /// <summary>What a second connection is made with: the logger and clock of this one.</summary>
    private readonly ILogger<RedisConnection>? _typedLogger;
    private readonly TimeProvider? _timeProvider;

    /// <summary>The configuration this connection connects with, when it made its multiplexer itself; null for a supplied one.</summary>
    private readonly ConfigurationOptions? _configuration;

    private RedisConnection? _replicaWait;

    /// <summary>
    /// Gets the connection that writes which wait for replicas (<c>WAIT</c>) and their <c>WAIT</c> go over: a second
    /// multiplexer made from the same configuration (password, TLS, cluster routing by key), created on first use of
    /// this property and connected on its first command; or this connection itself when the multiplexer was supplied
    /// (<see cref="RedisRateLimitStoreOptions.ConnectionMultiplexerFactory"/>, or one registered in the service
    /// collection), whose configuration the store cannot copy.
    /// </summary>
    /// <remarks>
    /// Redis blocks the client connection a <c>WAIT</c> is sent on until the replicas acknowledge or its timeout passes,
    /// and a multiplexer has one connection per server: on the shared one, every other call of the instance queued behind
    /// a <c>WAIT</c> for a lagging replica waits as long. <c>WAIT</c> covers only the writes sent before it on the same
    /// connection, so the write it must cover goes over this one too. Disposed with this connection.
    /// </remarks>
    public RedisConnection ReplicaWaitConnection
    {
        get
        {
            if (_configuration is null)
            {
                return this;
            }

            if (Volatile.Read(ref _replicaWait) is { } existing)
            {
                return existing;
            }

            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
            RedisConnection created = new(
                new RedisRateLimitStoreOptions { KeyPrefix = KeyPrefix, ConfigurationOptions = _configuration }, null, _typedLogger, _timeProvider);
            if (Interlocked.CompareExchange(ref _replicaWait, created, null) is { } raced)
            {
                // Never connected: nothing to close but the lock.
                created.Dispose();
                return raced;
            }

            // Disposed while it was made: the dispose may have found no connection to close, and this one, handed out,
            // would connect on its first command and never be closed. Whoever takes it out of the field closes it.
            if (Volatile.Read(ref _disposed))
            {
                if (Interlocked.CompareExchange(ref _replicaWait, null, created) == created)
                {
                    created.Dispose();
                }

                ObjectDisposedException.ThrowIf(true, this);
            }

            return created;
        }
    }

    /// <summary>Whether writes that wait for replicas share this connection (<see cref="ReplicaWaitConnection"/>).</summary>
    public bool SharesReplicaWait => _configuration is null;
}
