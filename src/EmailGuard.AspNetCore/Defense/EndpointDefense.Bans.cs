using System.Net;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The bans that are not Fail2Ban: Allow2Ban (every request counts) and the bounce ban (feedback on mail the network's
/// requests caused counts). Both count per client network in the store and start a ban by filling its marker; the
/// marker's acquire elects the one instance that reports the ban.
/// </summary>
internal sealed partial class EndpointDefense
{
    /// <summary>
    /// Counts an admitted-so-far request for Allow2Ban; the request that reaches the count starts the ban and is still
    /// let through.
    /// </summary>
    /// <returns>
    /// True when the request is past the count and must be rejected as banned: requests of a burst all pass the ban
    /// check before the ban starts, so the count, which is atomic, decides for them.
    /// </returns>
    private async ValueTask<bool> CountAllow2BanAsync(EndpointGuardState state, PolicyDefense defense, string client, CancellationToken aborted)
    {
        EmailGuardAllow2BanOptions options = defense.Allow2Ban!;
        var counted = new RateLimitEntry[1];
        RateLimitDecision decision = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.Allow2BanCountKeyPrefix + client, defense.Allow2BanCountRule!) }, counted, StoreFailureMode.FailOpen, aborted)
            .ConfigureAwait(false);
        if (decision.Status != RateLimitStatus.Allowed || counted[0].Count < options.MaxRequests)
        {
            return false;
        }

        if (await StartBanAsync(defense.Allow2BanMarker, client, aborted).ConfigureAwait(false))
        {
            Log.Allow2BanStarted(_logger, defense.Policy, LogValue.Of(client), options.BanFor, counted[0].Count, options.Within);
            await BanStartedAsync(state, defense.Policy, client, options.BanFor, EmailGuardBanReason.Requests).ConfigureAwait(false);
        }

        return counted[0].Count > options.MaxRequests;
    }

    /// <summary>
    /// Counts a hard bounce or complaint on mail that a request to <paramref name="defense"/>'s policy caused against the
    /// request's client network, and bans the network when it has too many.
    /// </summary>
    /// <param name="state">The endpoint rules in force.</param>
    /// <param name="defense">The policy's defenses, with a bounce ban.</param>
    /// <param name="clientNetwork">The network as the mail's attribution names it (CIDR).</param>
    /// <param name="cancellationToken">The recording call's cancellation.</param>
    public async ValueTask OnBounceAsync(EndpointGuardState state, PolicyDefense defense, string clientNetwork, CancellationToken cancellationToken)
    {
        EmailGuardBounceBanOptions options = defense.BounceBan!;
        if (ClientOf(clientNetwork, state.Options) is not { } client)
        {
            Log.BounceBanSkipped(_logger, defense.Policy);
            return;
        }

        var counted = new RateLimitEntry[1];
        RateLimitDecision decision = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.BounceCountKeyPrefix + client, defense.BounceCountRule!) }, counted, StoreFailureMode.FailOpen, cancellationToken)
            .ConfigureAwait(false);
        if (decision.Status != RateLimitStatus.Allowed || counted[0].Count < options.Bounces)
        {
            return;
        }

        if (await StartBanAsync(defense.BounceBanMarker, client, cancellationToken).ConfigureAwait(false))
        {
            Log.BounceBanStarted(_logger, defense.Policy, LogValue.Of(client), options.BanFor, counted[0].Count, options.Within);
            await BanStartedAsync(state, defense.Policy, client, options.BanFor, EmailGuardBanReason.Bounces).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The network as the policies count it: the attribution's network address grouped by the endpoint options' prefix
    /// lengths (the send guard may group IPv6 differently). Null when it is not a network, or when it is wider than the
    /// networks the policies count: the send guard's /48 does not say which of its /64s sent, and its network address
    /// lies in the first one, which would be banned for mail it did not cause.
    /// </summary>
    internal static string? ClientOf(string clientNetwork, EmailGuardEndpointOptions options)
    {
        int slash = clientNetwork.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(slash < 0 ? clientNetwork.AsSpan() : clientNetwork.AsSpan(0, slash), out IPAddress? address))
        {
            return null;
        }

        bool v4 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
        int policyPrefix = v4 ? options.IPv4PrefixLength : options.IPv6PrefixLength;
        if (slash >= 0 && (!int.TryParse(clientNetwork.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix)
            || prefix < (address.IsIPv4MappedToIPv6 ? policyPrefix + 96 : policyPrefix)))
        {
            return null;
        }

        return IpAddressGrouping.GetPartition(address, options.IPv6PrefixLength, options.IPv4PrefixLength);
    }

    /// <summary>Fills a ban marker; true when this call started the ban (the marker was empty).</summary>
    private async ValueTask<bool> StartBanAsync((string KeyPrefix, RateLimitRule Rule) marker, string client, CancellationToken cancellationToken)
    {
        RateLimitDecision banned = await _store.AcquireAsync(
            new[] { new RateLimitRequest(marker.KeyPrefix + client, marker.Rule) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailOpen, cancellationToken)
            .ConfigureAwait(false);
        return banned.Status == RateLimitStatus.Allowed;
    }

    private async ValueTask BanStartedAsync(EndpointGuardState state, string policy, string client, TimeSpan length, EmailGuardBanReason reason)
    {
        _metrics.BanStarted(policy, 1);
        if (state.Options.OnBanStarted is { } onBanStarted)
        {
            await RaiseAsync(onBanStarted, new EmailGuardBanStartedArguments(policy, client, length, 1, _time.GetUtcNow(), reason), "BanStarted").ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2610, EventName = "Allow2BanStarted", Level = LogLevel.Warning,
            Message = "EmailGuard banned client network {ClientNetwork} from policy '{Policy}' for {Duration}: {Requests} requests within {Within} (Allow2Ban).")]
        public static partial void Allow2BanStarted(ILogger logger, string policy, string clientNetwork, TimeSpan duration, long requests, TimeSpan within);

        [LoggerMessage(EventId = 2611, EventName = "BounceBanStarted", Level = LogLevel.Warning,
            Message = "EmailGuard banned client network {ClientNetwork} from policy '{Policy}' for {Duration}: mail its requests caused bounced or drew complaints {Bounces} times within {Within}.")]
        public static partial void BounceBanStarted(ILogger logger, string policy, string clientNetwork, TimeSpan duration, long bounces, TimeSpan within);

        [LoggerMessage(EventId = 2612, EventName = "BounceBanSkipped", Level = LogLevel.Debug,
            Message = "A bounce on mail caused through EmailGuard policy '{Policy}' names no valid client network, or one wider than the policy's (the send guard groups clients more coarsely than the endpoints); no bounce ban is counted.")]
        public static partial void BounceBanSkipped(ILogger logger, string policy);
    }
}
