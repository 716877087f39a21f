using System.Globalization;
using System.Net;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Reads <c>INFO server</c> and <c>INFO memory</c> from every connected primary, in one script per primary, for the
/// configuration checks that need them (<see cref="RedisServerCompatibilityCheck"/>, <see cref="RedisEvictionPolicyCheck"/>).
/// </summary>
/// <remarks>
/// <para><c>INFO</c> is sent from a script: StackExchange.Redis allows <c>INFO</c> itself only on admin connections,
/// which an app's connection should not be, while a script may run it on any connection that may run scripts; managed
/// services (ElastiCache, Azure Cache) allow it where they rename or block <c>CONFIG</c>. A server without Lua answers
/// with its own "Lua disabled" refusal, which the compatibility check reports.</para>
/// <para>The checks run together at startup and at the same health checks, so a read in flight or finished in the last
/// few seconds is shared: each primary is asked once for both. A read that failed is not shared.</para>
/// </remarks>
internal sealed class RedisPrimaryInfoReader
{
    /// <summary>
    /// Both sections in one reply. <c>INFO server memory</c> would do the same on Redis 7, but not on every server that
    /// speaks the protocol, and a script must run anyway.
    /// </summary>
    private const string InfoScript = "return redis.call('INFO', 'server') .. '\\r\\n' .. redis.call('INFO', 'memory')";

    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_shareFor = TimeSpan.FromSeconds(5);

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly long _shareTimestamps;
    private readonly Lock _gate = new();
    private Task<IReadOnlyList<RedisPrimaryInfo>>? _read;
    private long _readStartedAt;

    public RedisPrimaryInfoReader(RedisConnection connection, TimeProvider timeProvider)
    {
        _connection = connection;
        _timeProvider = timeProvider;
        _shareTimestamps = (long)(s_shareFor.TotalSeconds * timeProvider.TimestampFrequency);
    }

    /// <summary>How many reads went to the servers, for tests.</summary>
    internal int ReadsStarted { get; private set; }

    /// <summary>
    /// What every connected primary said; an empty list when none is connected. Joins a read in flight or one that
    /// finished moments ago.
    /// </summary>
    /// <exception cref="TimeoutException">The connection or a primary did not answer within the check's timeout.</exception>
    public Task<IReadOnlyList<RedisPrimaryInfo>> ReadAsync()
    {
        lock (_gate)
        {
            long now = _timeProvider.GetTimestamp();
            if (_read is { } read && !read.IsFaulted && !read.IsCanceled && (!read.IsCompleted || now - _readStartedAt < _shareTimestamps))
            {
                return read;
            }

            _readStartedAt = now;
            ReadsStarted++;
            return _read = ReadAllAsync();
        }
    }

    private async Task<IReadOnlyList<RedisPrimaryInfo>> ReadAllAsync()
    {
        IConnectionMultiplexer multiplexer = await BoundedCall.WaitAsync(
            _connection.GetMultiplexerAsync(CancellationToken.None), s_callTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
        List<RedisPrimaryInfo> primaries = [];
        foreach (IServer server in multiplexer.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            string endpoint = Format(server.EndPoint);
            try
            {
                RedisResult info = await BoundedCall.WaitAsync(
                    server.ExecuteAsync("EVAL", InfoScript, 0), s_callTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
                primaries.Add(new RedisPrimaryInfo(endpoint, (string?)info ?? string.Empty, refusal: null));
            }
            catch (RedisServerException ex)
            {
                primaries.Add(new RedisPrimaryInfo(endpoint, info: null, ex.Message));
            }
        }

        return primaries;
    }

    private static string Format(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => ip.ToString(),
        DnsEndPoint dns => string.Create(CultureInfo.InvariantCulture, $"{dns.Host}:{dns.Port}"),
        _ => endPoint.ToString() ?? "?",
    };
}
