using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Which failures of a node script mean "this node does not serve a key's slot" (give back and decide again slot by
/// slot): the refusals exactly as Redis and StackExchange.Redis word them, and nothing that merely contains their
/// words. The messages go on to name the command and its key, and a script's error can say anything, so a key or a Lua
/// error with <c>MOVED</c> in it must surface as the failure it is.
/// </summary>
public class RedisNotServedByNodeTests
{
    public static TheoryData<string> ServerRefusals => new()
    {
        // StackExchange.Redis (ResultProcessor.HandleCommonError): a MOVED not followed under CommandFlags.NoRedirect, with
        // IncludeDetailInExceptions on and off. The first is what the cluster tests' node scripts meet.
        "Key has MOVED to Endpoint 127.0.0.1:33065 and hashslot 8408 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA. ",
        "Key has MOVED to Endpoint 127.0.0.1:7001 and hashslot 5798 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA eg:{t:abc}:c. ",
        "Key has MOVED to Endpoint [::1]:7001 and hashslot 0 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA eg:{t:abc}:c. ",
        "Key has MOVED to Endpoint redis-2.internal:6379 and hashslot 16383 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA eg:{t:abc}:c. ",
        "Key has MOVED but CommandFlags.NoRedirect was specified - redirect not followed. ",

        // A redirect StackExchange.Redis could not parse reaches the caller as the server sent it.
        "MOVED 5798 127.0.0.1:7001",
        "ASK 5798 127.0.0.1:7001",

        // Redis 7 (script.c): a key of another node, met by a script at its first access; the first as Redis 7.0 answers
        // the cluster tests' node scripts.
        "ERR Script attempted to access a non local key in a cluster node",
        "ERR Script attempted to access a non local key in a cluster node script: 3e8d9c1ab4b0b7c4f8f0e1d2c3b4a5968778695a, on @user_script:57.",
    };

    public static TheoryData<string> ServerLookAlikes => new()
    {
        // A script's own error that quotes a key or a value.
        "ERR user_script:12: MOVED 5798 127.0.0.1:7001 script: 3e8d9c1ab4b0b7c4f8f0e1d2c3b4a5968778695a, on @user_script:12.",
        "ERR Error running script (call to f_3e8d9c1a): @user_script:3: Key has MOVED to Endpoint 127.0.0.1:7001 and hashslot 5798 but CommandFlags.NoRedirect was specified - redirect not followed",

        // A type error whose text names the key (StackExchange.Redis adds the command and key to messages).
        "WRONGTYPE Operation against a key holding the wrong kind of value, command=EVALSHA, key=eg:{t:MOVED}:c",
        "WRONGTYPE Operation against a key holding the wrong kind of value, key=eg:{t:Key has MOVED to Endpoint x and hashslot 1 but CommandFlags.NoRedirect was specified - redirect not followed}",
        "WRONGTYPE Operation against a key holding the wrong kind of value, key=eg:{ASK 5798 127.0.0.1:7001}",

        // A Lua bug is not a moved slot, although Redis words it "Script attempted to access".
        "ERR user_script:3: Script attempted to access nonexistent global variable 'MOVED' script: 3e8d9c1a, on @user_script:3.",
        "ERR user_script:1: Script attempted to access a non local key in a cluster node",

        // Other codes.
        "NOSCRIPT No matching script. Please use EVAL. MOVED",
        "MOVED",
        "MOVEDX 5798 127.0.0.1:7001",
        "ASKING 5798 127.0.0.1:7001",
        "MOVED 5798 127.0.0.1:7001 and then some",
    };

    [Theory]
    [MemberData(nameof(ServerRefusals))]
    public void IsNotServedByNode_RefusalAsReported_True(string message)
        => RedisRateLimitStore.IsNotServedByNode(ServerError(message)).Should().BeTrue();

    [Theory]
    [MemberData(nameof(ServerLookAlikes))]
    public void IsNotServedByNode_ServerErrorThatOnlyContainsTheWords_False(string message)
        => RedisRateLimitStore.IsNotServedByNode(ServerError(message)).Should().BeFalse();

    [Theory]
    [InlineData("Endpoint 127.0.0.1:7001 serving hashslot 5798 is not reachable at this point of time. Please check connectTimeout value. If it is low, try increasing it to give the ConnectionMultiplexer a chance to recover from the network disconnect. IOCP: (Busy=0,Free=1000,Min=2,Max=1000), WORKER: (Busy=1,Free=32766,Min=2,Max=32767), Local-CPU: n/a")]
    [InlineData("Endpoint is not reachable at this point of time. Please check connectTimeout value. If it is low, try increasing it to give the ConnectionMultiplexer a chance to recover from the network disconnect. ")]
    public void IsNotServedByNode_AskNotFollowed_True(string message)
        => RedisRateLimitStore.IsNotServedByNode(ConnectionError(ConnectionFailureType.UnableToConnect, message)).Should().BeTrue();

    [Theory]
    [InlineData(ConnectionFailureType.UnableToConnect, "No connection is active/available to service this operation: EVALSHA eg:{t:hashslot}:c, inst: 0, mgr: Inactive")]
    [InlineData(ConnectionFailureType.UnableToConnect, "UnableToConnect on 127.0.0.1:7001/Interactive, key=eg:{Endpoint 1 serving hashslot 2 is not reachable at this point of time.}")]
    [InlineData(ConnectionFailureType.SocketClosed, "Endpoint 127.0.0.1:7001 serving hashslot 5798 is not reachable at this point of time. ")]
    public void IsNotServedByNode_OtherConnectionFailure_False(ConnectionFailureType failure, string message)
        => RedisRateLimitStore.IsNotServedByNode(ConnectionError(failure, message)).Should().BeFalse();

    /// <summary>A server error with only its message, which is all the classifier reads.</summary>
#pragma warning disable CS0618 // The other constructor takes RedisErrorKind, which StackExchange.Redis marks experimental.
    private static RedisServerException ServerError(string message) => new(message);
#pragma warning restore CS0618

    private static RedisConnectionException ConnectionError(ConnectionFailureType failure, string message)
        => new(failure, CommandFlags.NoRedirect, message, null, CommandStatus.Sent);
}
