using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// A client network over <see cref="EmailRatioBreakerOptions.NetworkBouncesToBan"/> that is wider than the lists take
/// (<see cref="ListedNetworks"/>: a /8 of IPv4, a /32 of IPv6) is not banned. The send guard groups IPv6 clients that
/// wide under a <see cref="SendGuardOptions.IPv6PrefixLength"/> below 32, and echoed tags the app did not write (mail
/// sent around the guard) can name any network. The lists' refusal, thrown from the ban, ended the whole event's
/// evaluation: the account's breaker did not judge it, and warning 2103 said "the next bounce tries again" of a ban no
/// bounce could take.
/// </summary>
internal sealed partial class RatioBreaker
{
    // Networks this instance logged as too wide to ban (3133); bounded like the warned parties.
    private readonly ConcurrentDictionary<string, byte> _tooWideNetworks = new(StringComparer.Ordinal);

    private void WarnTooWide(string network)
    {
        if (_tooWideNetworks.Count < MaxWarnedParties && _tooWideNetworks.TryAdd(network, 0) && _logger.IsEnabled(LogLevel.Warning))
        {
            string shownNetwork = LogValue.Of(network);
            LogNetworkTooWideToBan(_logger, shownNetwork, ListedNetworks.NarrowEnough);
        }
    }

    [LoggerMessage(EventId = 3133, EventName = "RatioBreakerNetworkTooWideToBan", Level = LogLevel.Warning,
        Message = "The client network {Network} is over EmailGuard:RatioBreakers:NetworkBouncesToBan but is not banned: the lists take {Bound}, and a ban that wide would refuse every client in it. " +
            "EmailGuard:SendGuard:IPv6PrefixLength below 32 groups IPv6 clients that wide; else the provider echoed tags the app did not write.")]
    private static partial void LogNetworkTooWideToBan(ILogger logger, string network, string bound);
}
