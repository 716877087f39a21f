using System.ComponentModel.DataAnnotations;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Options of the Redis rate-limit store: how to reach Redis, and how its keys are named.
/// </summary>
/// <remarks>
/// Set exactly one of <see cref="Configuration"/>, <see cref="ConfigurationOptions"/> and
/// <see cref="ConnectionMultiplexerFactory"/>, or none of them to reuse the <see cref="IConnectionMultiplexer"/>
/// registered in the service collection. The connection is made on first use, never at startup, and a Redis that is
/// down at that moment does not fail the app: the multiplexer keeps reconnecting in the background.
/// </remarks>
public sealed class RedisRateLimitStoreOptions
{
    /// <summary>The longest <see cref="KeyPrefix"/> accepted, in characters.</summary>
    public const int MaxKeyPrefixLength = 128;

    /// <summary>
    /// Gets or sets the StackExchange.Redis connection string, e.g. <c>localhost:6379</c> or
    /// <c>redis1:6379,redis2:6379,password=…</c>. <c>abortConnect</c> is forced to <see langword="false"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Configuration { get; set; }

    /// <summary>
    /// Gets or sets the connection configuration, for settings a connection string cannot express (certificate
    /// callbacks, a custom socket manager). <see cref="ConfigurationOptions.AbortOnConnectFail"/> is forced to
    /// <see langword="false"/> on a copy; the instance given is not changed.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>
    /// Gets or sets a factory that returns the multiplexer to use, called once, on first use. The store does not
    /// dispose a multiplexer it did not create.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<Task<IConnectionMultiplexer>>? ConnectionMultiplexerFactory { get; set; }

    /// <summary>
    /// Gets or sets the prefix of every key the store writes, so that several apps or environments can share one
    /// Redis. It must not contain <c>{</c> or <c>}</c>: the store places its own Redis Cluster hash tag right after it.
    /// </summary>
    /// <value>The default value is <c>emailguard:</c>.</value>
    [Required(AllowEmptyStrings = true, ErrorMessage = "KeyPrefix must not be null; use an empty string for no prefix.")]
    [MaxLength(MaxKeyPrefixLength, ErrorMessage = "KeyPrefix must be at most 128 characters long.")]
    [RegularExpression("^[^{}]*$", ErrorMessage = "KeyPrefix must not contain '{{' or '}}': the store places its own Redis Cluster hash tag after the prefix.")]
    public string KeyPrefix { get; set; } = "emailguard:";

    /// <summary>
    /// Gets or sets whether "now" comes from the Redis server's clock (<c>TIME</c>), which every app instance shares.
    /// When <see langword="false"/>, each instance uses its own <see cref="TimeProvider"/>; instances whose clocks
    /// disagree then disagree on window boundaries, so use it for tests rather than production.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool UseServerTime { get; set; } = true;

    /// <summary>
    /// Gets or sets how many replicas must acknowledge an admitted acquire of a low-volume, high-value limit (one of at
    /// most <see cref="WaitForReplicasMaxLimit"/>) before it is admitted: the store sends <c>WAIT</c> to the master
    /// that holds its counters. When fewer replicas acknowledge within <see cref="WaitForReplicasTimeout"/>, the
    /// permits are given back and the acquire fails as a store failure, so the policy's failure mode answers (use
    /// fail-closed for these limits). A failover to a replica that acknowledged cannot forget those permits.
    /// </summary>
    /// <remarks>
    /// Redis blocks the connection a <c>WAIT</c> is sent on, so these acquires send their script and their <c>WAIT</c>
    /// over a second connection made from <see cref="Configuration"/> or <see cref="ConfigurationOptions"/> at the first
    /// of them: other acquires never queue behind a <c>WAIT</c> for a lagging replica. A multiplexer the app supplies
    /// (<see cref="ConnectionMultiplexerFactory"/>, or one in the service collection) cannot be copied: there the
    /// <c>WAIT</c> shares it, and every call on it waits behind a <c>WAIT</c> (warning 3039 at startup).
    /// </remarks>
    /// <value>The default value is 0: never wait.</value>
    [Range(0, 16)]
    public int WaitForReplicas { get; set; }

    /// <summary>
    /// Gets or sets the largest limit whose acquires wait for replicas (see <see cref="WaitForReplicas"/>): a limit of
    /// 10 a day is worth a round trip per acquire, a limit of 10,000 a minute is not.
    /// </summary>
    /// <value>The default value is 100.</value>
    [Range(1, long.MaxValue)]
    public long WaitForReplicasMaxLimit { get; set; } = 100;

    /// <summary>Gets or sets how long <c>WAIT</c> waits for the replicas' acknowledgements.</summary>
    /// <value>The default value is 50 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan WaitForReplicasTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Gets or sets how many replicas must acknowledge a flag or list write (a suspension, a reduced limit, a clear, a
    /// blocklist or allowlist entry, a suppression) before the call returns: the state store sends <c>WAIT</c> to the
    /// primary that holds the state after the write. Redis replicates asynchronously, so without it a flag written to a
    /// primary that dies before its replica received it is gone after the failover: the suspended party sends again.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The write reports how many replicas its primary has connected, and the store waits for no more than that: a Redis
    /// without replicas is never waited on (the first write says so once, information 3008), and every write is
    /// counted by <c>emailguard.store.state_replication</c> with its outcome. When fewer replicas than this acknowledge
    /// within <see cref="StateWaitForReplicasTimeout"/> (or the primary has fewer connected), the write still stands on
    /// the primary and the call succeeds: it is not undone, since the primary enforces it now; warning 3007 says, once
    /// until a write is acknowledged again, that a failover could forget it.
    /// </para>
    /// <para>
    /// <c>WAIT</c> holds the connection it is sent on until the replicas acknowledge: about one round trip to a replica
    /// in sync, at most <see cref="StateWaitForReplicasTimeout"/> when one lags. The writes and their <c>WAIT</c>
    /// therefore go over a second connection, made from <see cref="Configuration"/> or <see cref="ConfigurationOptions"/>
    /// at the first write (the one <see cref="WaitForReplicas"/> uses), so that rate-limit checks never wait behind it.
    /// A multiplexer the app supplies cannot be copied: there the writes and their <c>WAIT</c> share it with the checks.
    /// Set 0 to never wait, and to make no second connection.
    /// </para>
    /// </remarks>
    /// <value>The default value is 1: a suspension an instance reported written survives a failover to a replica in sync.</value>
    [Range(0, 16)]
    public int StateWaitForReplicas { get; set; } = 1;

    /// <summary>
    /// Gets or sets how long a flag or list write waits for its replicas' acknowledgements (see <see cref="StateWaitForReplicas"/>).
    /// The wait is also cut to leave a quarter of the store timeout (<c>EmailGuard:Resilience:Timeout</c>) after the
    /// write, so that a slow acknowledgement never fails a write that stands.
    /// </summary>
    /// <value>The default value is 100 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan StateWaitForReplicasTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets whether the server is Microsoft Garnet started with <c>--lua-transaction-mode</c>, which Garnet
    /// does not report. Without that flag Garnet runs scripts without isolation, and limits can be exceeded; while this
    /// is <see langword="false"/>, the health check reports degraded on Garnet with a warning that names the flag.
    /// Ignored on other servers.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool GarnetLuaTransactionMode { get; set; }

    /// <summary>
    /// Gets or sets whether acquires of different keys that arrive while an acquire script is in flight to their Redis
    /// node (their hash slot on a cluster) wait for it and then go out together in one script call.
    /// </summary>
    /// <remarks>
    /// The batch script runs each acquire, in arrival order, with the same code as its own script, so every decision
    /// is the one it would have had alone: all or nothing per acquire, the same counts and retry-afters. Batching
    /// trades a little latency at low load (an acquire may wait for the script in flight) for many fewer script
    /// calls under concurrency; turn it off only to compare.
    /// </remarks>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool BatchAcrossKeys { get; set; } = true;

    /// <summary>
    /// Gets or sets how long this instance may deny acquires on a fixed-window counter locally, without a round trip,
    /// after Redis reported it at or over the acquire's limit; <see cref="TimeSpan.Zero"/> turns the cache off.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A flood of denied requests then costs Redis one script per counter per max age (and at most one per window).
    /// An entry never outlives its window, and only denies acquires whose limit the cached count already reaches, so
    /// a raised limit (a tenant override, a cleared flag, a reload) is asked of Redis at once. Refunds and resets made
    /// through this instance clear the entries of their counters at once.
    /// </para>
    /// <para>
    /// The trade-off: a refund or a reset made through <em>another</em> instance is not seen here, so for up to this
    /// long this instance can go on denying an acquire that Redis would admit. It never admits anything Redis would
    /// deny. Sliding-window counters are never cached.
    /// </para>
    /// </remarks>
    /// <value>The default value is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan OverLimitCacheMaxAge { get; set; } = TimeSpan.FromSeconds(1);
}
