using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Applies the endpoint's EmailGuard policy and the matching path rule to each request, in one atomic acquire.
/// </summary>
internal sealed partial class EmailGuardMiddleware
{
    private readonly RequestDelegate _next;
    private readonly IResilientRateLimitStore _store;
    private readonly ILogger _logger;
    private readonly EndpointMetrics _metrics;
    private readonly IOptionsFactory<EmailGuardEndpointOptions> _optionsFactory;
    private readonly bool _hasTrustedProxy;
    private readonly EmailAddressNormalizationOptions _addressNormalization;
    private volatile EndpointGuardState _state;
    private int _proxyWarningLogged;

    public EmailGuardMiddleware(
        RequestDelegate next,
        IResilientRateLimitStore store,
        IOptions<EmailGuardEndpointOptions> options,
        IOptionsFactory<EmailGuardEndpointOptions> optionsFactory,
        ILoggerFactory loggerFactory,
        EndpointMetrics metrics,
        IServiceProvider services)
    {
        _next = next;
        _store = store;
        _logger = loggerFactory.CreateLogger<EmailGuardMiddleware>();
        _metrics = metrics;
        _optionsFactory = optionsFactory;
        _state = EndpointGuardState.Create(options.Value);
        _hasTrustedProxy = ForwardedHeadersCheck.HasTrustedProxy(services.GetService<IOptions<ForwardedHeadersOptions>>()?.Value);

        // The send guard's folding, so a field partition counts one mailbox under one key as the guard does.
        _addressNormalization = services.GetService<IOptions<SendGuardOptions>>()?.Value.AddressNormalization ?? new EmailAddressNormalizationOptions();
        if (services.GetService<IConfiguration>() is { } configuration)
        {
            // Lives as long as the middleware, which lives as long as the app.
            ChangeToken.OnChange(() => configuration.GetSection(EmailGuardEndpointOptions.ConfigurationSectionName).GetReloadToken(), Reload);
        }

        // The pipeline is built when the host starts, after every endpoint is mapped: a typo in a policy name fails
        // the start instead of the first signup.
        EndpointPolicyValidator.Validate(services.GetService<EndpointDataSource>(), _state.Policies);
    }

    public Task Invoke(HttpContext context)
    {
        EndpointGuardState state = _state;
        IEmailRateLimitMetadata? metadata = EndpointPolicySelector.Select(context, context.GetEndpoint());
        EmailRateLimitPolicy? policy = null;
        if (metadata is not null)
        {
            if (metadata.PolicyName is null)
            {
                return _next(context);
            }

            if (!state.Policies.TryGetValue(metadata.PolicyName, out policy))
            {
                throw EndpointPolicyValidator.UnknownPolicy(metadata.PolicyName, context.GetEndpoint()!.DisplayName);
            }
        }

        EmailRateLimitPolicy? pathRule = state.PathRules.IsEmpty ? null : state.PathRules.Match(context.Request.Method, context.Request.Path.Value);
        if ((policy is null && pathRule is null) || !GuardedRequest.Claim(context, ref policy, ref pathRule))
        {
            return _next(context);
        }

        return InvokeGuardedAsync(context, state, pathRule, policy);
    }

    private async Task InvokeGuardedAsync(HttpContext context, EndpointGuardState state, EmailRateLimitPolicy? pathRule, EmailRateLimitPolicy? policy)
    {
        CheckForwardedHeader(context);
        if (!state.Safelist.IsEmpty && state.Safelist.Contains(context))
        {
            _metrics.Decision(policy?.Name ?? pathRule!.Name, "allowlisted");
            await _next(context);
            return;
        }

        if (!await CheckClientIpAsync(context, state, pathRule, policy))
        {
            return;
        }

        string[][]? fieldValues = null;
        if (policy is { FieldNames.Length: > 0 })
        {
            FieldValueCollector.Result read = await FieldValueCollector.CollectAsync(context, policy, state.Options.MaxBodyBytes, _addressNormalization);
            if (!read.Succeeded)
            {
                Log.BodyFieldRejected(_logger, read.StatusCode, policy.Name, read.Problem!);
                _metrics.Decision(policy.Name, "invalid_request");
                await ProblemDetailsWriter.WriteAsync(context, read.StatusCode, read.Problem!);
                return;
            }

            fieldValues = read.Keys;
        }

        // Shadow policies are acquired on their own, so that a would-be rejection never stops the enforced rules from counting.
        bool combine = policy is null || pathRule is null || !policy.ShadowMode;
        Verdict verdict = await EvaluateAsync(context, state, pathRule, combine ? policy : null, fieldValues);
        if (verdict.Kind == VerdictKind.Reject)
        {
            return;
        }

        if (!combine)
        {
            Verdict shadow = await EvaluateAsync(context, state, policy, null, fieldValues);
            if (shadow.Kind == VerdictKind.Reject)
            {
                return;
            }
        }

        await _next(context);
    }

    /// <summary>Zero means no: a <see langword="default"/> verdict rejects.</summary>
    private enum VerdictKind
    {
        Reject,
        Continue,
    }

    private readonly record struct Verdict(VerdictKind Kind);

    private readonly record struct Owner(EmailRateLimitPolicy Policy, EmailRateLimitPartition Partition, int RuleIndex);

    private async ValueTask<Verdict> EvaluateAsync(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy? first, EmailRateLimitPolicy? second, string[][]? fieldValues)
    {
        if (first is null)
        {
            (first, second) = (second!, null);
        }

        int capacity = first.RuleCount + (second?.RuleCount ?? 0) + FieldValueCollector.ExtraRequests(first, fieldValues) + FieldValueCollector.ExtraRequests(second, fieldValues);
        RateLimitRequest[] requests = ArrayPool<RateLimitRequest>.Shared.Rent(capacity);
        RateLimitEntry[] entries = ArrayPool<RateLimitEntry>.Shared.Rent(capacity);
        Owner[] owners = ArrayPool<Owner>.Shared.Rent(capacity);
        try
        {
            int count = 0;
            string? ipPartition = null;
            bool missingField = false;
            count = AddRequests(context, state, first, fieldValues, requests, owners, count, ref ipPartition, ref missingField);

            if (second is not null)
            {
                count = AddRequests(context, state, second, fieldValues, requests, owners, count, ref ipPartition, ref missingField);
            }

            EmailRateLimitPolicy named = second ?? first;
            if (missingField)
            {
                string problem = $"The request must carry the field(s) {string.Join(", ", named.FieldNames)}.";
                Log.BodyFieldRejected(_logger, StatusCodes.Status400BadRequest, named.Name, problem);
                _metrics.Decision(named.Name, "invalid_request");
                await ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status400BadRequest, problem);
                return new(VerdictKind.Reject);
            }

            if (count == 0)
            {
                return new(VerdictKind.Continue);
            }

            StoreFailureMode failureMode = Strictest(first.FailureMode, second?.FailureMode);

            // Started before the acquire so that the store's own activity nests under it, and disposed before the
            // endpoint runs so that the endpoint's work never looks like part of the decision.
            using Activity? activity = EndpointActivity.Start(named.Name);
            RateLimitDecision decision = await _store.AcquireAsync(
                requests.AsMemory(0, count), entries.AsMemory(0, count), failureMode, context.RequestAborted);

            bool shadow = first.ShadowMode && (second is null || second.ShadowMode);
            switch (decision.Status)
            {
                case RateLimitStatus.Allowed:
                    Decided(activity, named.Name, "allowed");
                    if (first.QuotaHeaders || second?.QuotaHeaders == true)
                    {
                        SetQuotaHeaders(context.Response.Headers, owners, entries, count, decision, deniedIndex: -1);
                    }

                    return new(VerdictKind.Continue);

                case RateLimitStatus.AllowedUnguarded:
                    Decided(activity, named.Name, "unguarded");
                    return new(VerdictKind.Continue);

                case RateLimitStatus.StoreUnavailable:
                    Decided(activity, named.Name, shadow ? "shadow_store_unavailable" : "store_unavailable");
                    if (shadow)
                    {
                        return new(VerdictKind.Continue);
                    }

                    Log.StoreUnavailableRejected(_logger, named.Name);
                    await RejectAsync(context, state, StatusCodes.Status503ServiceUnavailable, named.Name, "store", null, decision,
                        "The rate-limit service is temporarily unavailable. Try again shortly.");
                    return new(VerdictKind.Reject);

                default:
                    int denied = decision.DeniedIndex >= 0 && decision.DeniedIndex < count ? decision.DeniedIndex : 0;
                    Owner owner = owners[denied];
                    RateLimitRule rule = owner.Partition.Rules[owner.RuleIndex];
                    if (shadow)
                    {
                        Decided(activity, owner.Policy.Name, "shadow_rejected", owner.Partition.KindTag);
                        Log.ShadowWouldReject(_logger, owner.Policy.Name, owner.Partition.KindTag, rule.Limit, rule.Window);
                        return new(VerdictKind.Continue);
                    }

                    Decided(activity, owner.Policy.Name, "rejected", owner.Partition.KindTag);
                    SetQuotaHeaders(context.Response.Headers, owners, entries, count, decision, denied);
                    long seconds = RetryAfterSeconds(decision.RetryAfter, rule);
                    Log.RequestRejected(_logger, owner.Policy.Name, owner.Partition.KindTag, rule.Limit, rule.Window, seconds);
                    await RejectAsync(context, state, state.Options.RejectionStatusCode, owner.Policy.Name, owner.Partition.KindTag, rule, decision,
                        string.Create(CultureInfo.InvariantCulture, $"Too many requests. Try again in {seconds} seconds."));
                    return new(VerdictKind.Reject);
            }
        }
        finally
        {
            ArrayPool<RateLimitRequest>.Shared.Return(requests, clearArray: true);
            ArrayPool<RateLimitEntry>.Shared.Return(entries);
            ArrayPool<Owner>.Shared.Return(owners, clearArray: true);
        }
    }

    private void Decided(Activity? activity, string policy, string outcome, string? partitionKind = null)
    {
        _metrics.Decision(policy, outcome);
        EndpointActivity.SetOutcome(activity, policy, outcome, partitionKind);
    }

    private static int AddRequests(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy policy, string[][]? fieldValues,
        RateLimitRequest[] requests, Owner[] owners, int count, ref string? ipPartition, ref bool missingField)
    {
        foreach (EmailRateLimitPartition partition in policy.Partitions)
        {
            string? key;
            switch (partition.Kind)
            {
                case PartitionKind.ClientIp:
                    ipPartition ??= GetIpPartition(context, state.Options);
                    if (ipPartition.Length == 0)
                    {
                        continue;
                    }

                    key = string.Concat(partition.KeyPrefix, ipPartition);
                    break;
                case PartitionKind.Field:
                    string[] hashed = fieldValues?[Array.FindIndex(policy.FieldNames, f => f.Equals(partition.Name, StringComparison.OrdinalIgnoreCase))] ?? [];
                    if (hashed.Length == 0)
                    {
                        missingField |= policy.MissingField == MissingFieldBehavior.Reject;
                        continue;
                    }

                    // Every address but the last gets its own requests here; the last falls through like any key.
                    for (int v = 0; v < hashed.Length - 1; v++)
                    {
                        count = AddPartitionRequests(policy, partition, string.Concat(partition.KeyPrefix, hashed[v]), requests, owners, count);
                    }

                    key = string.Concat(partition.KeyPrefix, hashed[^1]);
                    break;
                default:
                    string? resolved = partition.Resolver!(context);
                    if (string.IsNullOrEmpty(resolved))
                    {
                        continue;
                    }

                    key = string.Concat(partition.KeyPrefix, StoreKeyEncoding.EncodeValue(resolved));
                    break;
            }

            count = AddPartitionRequests(policy, partition, key, requests, owners, count);
        }

        return count;
    }

    private static int AddPartitionRequests(
        EmailRateLimitPolicy policy, EmailRateLimitPartition partition, string key, RateLimitRequest[] requests, Owner[] owners, int count)
    {
        if (key.Length > RateLimitRequest.MaxKeyLength)
        {
            key = "eg:ep:h:" + StoreKeyEncoding.Hash(key);
        }

        for (int i = 0; i < partition.Rules.Length; i++)
        {
            requests[count] = new RateLimitRequest(key, partition.Rules[i]);
            owners[count] = new Owner(policy, partition, i);
            count++;
        }

        return count;
    }

    private static async Task RejectAsync(
        HttpContext context, EndpointGuardState state, int status, string policy, string partition, RateLimitRule? rule, RateLimitDecision decision, string detail)
    {
        long seconds = RetryAfterSeconds(decision.RetryAfter, rule);
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        Func<EmailRateLimitRejectedContext, ValueTask>? onRejected = state.Options.OnRejected;
        if (onRejected is not null)
        {
            await onRejected(new EmailRateLimitRejectedContext(context, policy, partition, rule, TimeSpan.FromSeconds(seconds), decision));
            return;
        }

        await ProblemDetailsWriter.WriteAsync(context, status, detail, seconds, policy);
    }

    /// <summary>Whole seconds, rounded up, so a client that waits exactly this long is admitted.</summary>
    private static long RetryAfterSeconds(TimeSpan retryAfter, RateLimitRule? rule)
    {
        if (retryAfter == TimeSpan.MaxValue)
        {
            retryAfter = rule?.Window ?? TimeSpan.FromSeconds(1);
        }

        long seconds = (retryAfter.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
        return Math.Max(1, seconds);
    }

    /// <summary>
    /// Sets the IETF <c>RateLimit-Policy</c> (every rule) and <c>RateLimit</c> (the denied rule, else the one closest to
    /// its limit) headers of draft-ietf-httpapi-ratelimit-headers.
    /// </summary>
    private static void SetQuotaHeaders(IHeaderDictionary headers, Owner[] owners, RateLimitEntry[] entries, int count, RateLimitDecision decision, int deniedIndex)
    {
        var policyHeader = new StringBuilder();
        int tightest = deniedIndex;
        for (int i = 0; i < count; i++)
        {
            Owner owner = owners[i];
            if (policyHeader.Length > 0)
            {
                policyHeader.Append(", ");
            }

            policyHeader.Append(owner.Partition.PolicyItems[owner.RuleIndex]);
            if (deniedIndex < 0 && (tightest < 0 || entries[i].Remaining < entries[tightest].Remaining))
            {
                tightest = i;
            }
        }

        Owner chosen = owners[tightest];
        RateLimitEntry entry = entries[tightest];
        TimeSpan reset = deniedIndex >= 0 ? decision.RetryAfter : entry.ResetAt - decision.Timestamp;
        long resetSeconds = reset == TimeSpan.MaxValue
            ? (long)chosen.Partition.Rules[chosen.RuleIndex].Window.TotalSeconds
            : Math.Max(0, (reset.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        long remaining = deniedIndex >= 0 ? 0 : entry.Remaining;
        headers["RateLimit-Policy"] = policyHeader.ToString();
        headers["RateLimit"] = string.Create(
            CultureInfo.InvariantCulture, $"{chosen.Partition.ItemNames[chosen.RuleIndex]};r={remaining};t={resetSeconds}");
    }

    private static StoreFailureMode Strictest(StoreFailureMode? a, StoreFailureMode? b)
    {
        static int Rank(StoreFailureMode? mode) => mode switch
        {
            StoreFailureMode.FailClosed => 2,
            StoreFailureMode.LocalFallback => 1,
            _ => 0,
        };

        return Rank(a) >= Rank(b) ? a ?? StoreFailureMode.FailOpen : b!.Value;
    }

    /// <summary>The client's network, or for a request without one what <see cref="MissingClientIpBehavior"/> says:
    /// one shared bucket, or empty to leave the partition out.</summary>
    private static string GetIpPartition(HttpContext context, EmailGuardEndpointOptions options)
    {
        System.Net.IPAddress? address = context.Connection.RemoteIpAddress;
        return address is null
            ? MissingClientIp.Partition(options)
            : IpAddressGrouping.GetPartition(address, options.IPv6PrefixLength, options.IPv4PrefixLength);
    }

    /// <summary>
    /// The normalized address, hashed, so raw addresses never end up in store keys. A value that is not a valid address
    /// is folded as far as it goes, so its look-alike spellings share a key too.
    /// </summary>
    internal static string HashAddress(string value, EmailAddressNormalizationOptions normalization)
        => StoreKeyEncoding.Hash(EmailAddressNormalizer.GetPartitionValue(value, normalization));

    private void CheckForwardedHeader(HttpContext context)
    {
        if (_hasTrustedProxy || Volatile.Read(ref _proxyWarningLogged) != 0)
        {
            return;
        }

        IHeaderDictionary headers = context.Request.Headers;
        if (headers.ContainsKey("X-Forwarded-For") && !headers.ContainsKey("X-Original-For")
            && Interlocked.Exchange(ref _proxyWarningLogged, 1) == 0)
        {
            Log.ForwardedForWithoutTrustedProxy(_logger);
        }
    }

    private void Reload()
    {
        try
        {
            EndpointGuardState state = EndpointGuardState.Create(_optionsFactory.Create(Options.DefaultName));
            _state = state;
            Log.OptionsReloaded(_logger, state.Policies.Count, state.PathRules.Count);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException or FormatException)
        {
            Log.OptionsReloadRejected(_logger, ex);
        }
    }
}
