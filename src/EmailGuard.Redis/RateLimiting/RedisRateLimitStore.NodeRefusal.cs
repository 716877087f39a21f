using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// How a node script's failure is told apart from the refusal of a node that does not serve one of its slots, after
/// which an acquire decided node by node is decided again slot by slot (<see cref="DecideAcrossNodesAsync"/>).
/// </summary>
internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Whether a node script was refused because its node does not serve a key's slot, in every case before it wrote
    /// anything: another key's, at that key's first access (Redis checks every key a script touches, declared or not),
    /// or its routing key's, with <c>MOVED</c> or <c>ASK</c>, which the script does not follow (see
    /// <see cref="RedisScript.Flags"/>).
    /// </summary>
    /// <remarks>
    /// Only the forms Redis and StackExchange.Redis give these refusals match, from the start of the message: an error's
    /// text goes on to name the command and its key, and a script's own error can say anything, so a key, a value or a
    /// Lua error that merely contains <c>MOVED</c> is no reason to decide again slot by slot (which would hide the
    /// error and repeat the acquire). StackExchange.Redis reports a declined <c>MOVED</c> as a server error that begins
    /// <c>Key has MOVED</c> (with or without the endpoint and slot, as <c>IncludeDetailInExceptions</c> says), a declined
    /// <c>ASK</c> as a connection failure that begins <c>Endpoint</c>, and a redirect it could not parse as the server's
    /// own reply (<c>MOVED</c> or <c>ASK</c>, slot, endpoint); Redis reports a key of another node met by a script as
    /// <c>ERR Script attempted to access a non local key in a cluster node</c>.
    /// </remarks>
    /// <param name="exception">What the node script threw.</param>
    /// <returns>True when the acquire may be decided again slot by slot.</returns>
    internal static bool IsNotServedByNode(RedisException exception) => exception switch
    {
        RedisServerException server => DeclinedMoved().IsMatch(server.Message)
            || RedirectReply().IsMatch(server.Message)
            || server.Message.StartsWith("ERR Script attempted to access a non local key in a cluster node", StringComparison.Ordinal),
        RedisConnectionException connection => connection.FailureType == ConnectionFailureType.UnableToConnect
            && DeclinedAsk().IsMatch(connection.Message),
        _ => false,
    };

    /// <summary>StackExchange.Redis's message for a <c>MOVED</c> it did not follow because the call said <see cref="CommandFlags.NoRedirect"/>.</summary>
    [GeneratedRegex(@"\AKey has MOVED (?:to Endpoint \S+ and hashslot [0-9]{1,5} )?but CommandFlags\.NoRedirect was specified - redirect not followed", RegexOptions.CultureInvariant)]
    private static partial Regex DeclinedMoved();

    /// <summary>A redirect as the server sent it: <c>MOVED</c> or <c>ASK</c>, the slot, the endpoint.</summary>
    [GeneratedRegex(@"\A(?:MOVED|ASK) [0-9]{1,5} \S+\z", RegexOptions.CultureInvariant)]
    private static partial Regex RedirectReply();

    /// <summary>StackExchange.Redis's message for an <c>ASK</c> it did not follow (it reports the endpoint as not reachable).</summary>
    [GeneratedRegex(@"\AEndpoint (?:\S+ serving hashslot [0-9]{1,5} )?is not reachable at this point of time\.", RegexOptions.CultureInvariant)]
    private static partial Regex DeclinedAsk();
}
