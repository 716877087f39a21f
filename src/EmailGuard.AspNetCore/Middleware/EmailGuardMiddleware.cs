using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    private readonly EndpointGuardStateProvider _state;
    private readonly RejectionWriter _rejections;
    private readonly EndpointDefense _defense;
    private readonly ClientNetworkLists _clientNetworks;
    private readonly TimeProvider _time;
    private readonly bool _hasTrustedProxy;
    private readonly EmailAddressNormalizationOptions _addressNormalization;
    private readonly PathBaseRuleCheck _pathBaseCheck;
    private readonly RewriteRefusals _rewriteRefusals;
    private int _proxyWarningLogged;
    private int _methodChangeLogged;

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
        _rejections = new RejectionWriter(services.GetService<IProblemDetailsService>());
        _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _defense = services.GetService<EndpointDefense>() ?? new EndpointDefense(store, _time, _logger, metrics);
        _clientNetworks = services.GetService<ClientNetworkLists>() ?? new ClientNetworkLists(services.GetService<IEmailGuardLists>(), _time, _logger);
        _pathBaseCheck = new PathBaseRuleCheck(_logger);
        _rewriteRefusals = new RewriteRefusals(_logger);
        _state = services.GetService<EndpointGuardStateProvider>() ?? new EndpointGuardStateProvider(options.Value, optionsFactory, services.GetService<IConfiguration>(), _logger, EndpointGuardStateProvider.SendGuardOf(services), services.GetService<EndpointDataSource>);

        // Only under a host, which stops the timer with the app; a pipeline built without one reads on requests alone.
        if (services.GetService<IHostApplicationLifetime>() is { } lifetime
            && _clientNetworks.StartPeriodicRefresh(() => _state.Current.Options.ClientNetworkListRefreshInterval) is { } refresh)
        {
            lifetime.ApplicationStopping.Register(refresh.Dispose);
        }
        _hasTrustedProxy = ForwardedHeadersCheck.HasTrustedProxy(services.GetService<IOptions<ForwardedHeadersOptions>>()?.Value);

        // The send guard's folding, so a field partition counts one mailbox under one key as the guard does.
        _addressNormalization = services.GetService<IOptions<SendGuardOptions>>()?.Value.AddressNormalization ?? new EmailAddressNormalizationOptions();

        // The pipeline is built when the host starts, after every endpoint is mapped: a typo in a policy name fails
        // the start instead of the first signup.
        EndpointDataSource? endpoints = services.GetService<EndpointDataSource>();
        EndpointPolicyValidator.Validate(endpoints, _state.Current.Policies);
        _state.WarnUncountedRouteValues();
    }

    public Task Invoke(HttpContext context)
    {
        // Routing that runs again after this (a rewrite, a re-execution) must not reach an endpoint unguarded.
        context.Features.Set(MiddlewareSawRequest.Instance);
        EndpointGuardState state = _state.Current;
        Endpoint? endpoint = context.GetEndpoint();
        // The method routing chose the endpoint by, worked out once for the policy, the path rules and the warning.
        string? routed = null;
        bool changed = false;
        IEmailRateLimitMetadata? metadata = EndpointPolicySelector.Select(context, endpoint, ref routed, ref changed);
        EmailRateLimitPolicy? policy = null;
        if (metadata is not null)
        {
            // The endpoint refuses to run without this mark (UnguardedEndpoints): its policy was applied here.
            context.Features.Set(MiddlewareRan.Instance);
            if (metadata.PolicyName is null)
            {
                return Next(context, state);
            }

            if (!state.Policies.TryGetValue(metadata.PolicyName, out policy))
            {
                throw EndpointPolicyValidator.UnknownPolicy(metadata.PolicyName, endpoint!.DisplayName);
            }
        }

        if (!state.PathRules.IsEmpty && context.Request.PathBase.HasValue)
        {
            _pathBaseCheck.Check(state.PathRules, context.Request.PathBase);
        }

        EmailRateLimitPolicy? pathRule = state.PathRules.MatchAt(context, endpoint, ref routed, ref changed);
        if ((policy is null && pathRule is null) || !GuardedRequest.Claim(context, ref policy, ref pathRule))
        {
            return Next(context, state);
        }

        // A guarded request was decided by a policy or a path rule, so its routed method was worked out above.
        return InvokeGuardedAsync(context, state, pathRule, policy, routed!, changed);
    }

    private async Task InvokeGuardedAsync(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy? pathRule, EmailRateLimitPolicy? policy, string routed, bool methodChanged)
    {
        CheckForwardedHeader(context);
        CheckMethodChanged(context, routed, methodChanged);
        if (context.Connection.RemoteIpAddress is { } address)
        {
            ClientNetworkTable networks = await _clientNetworks.GetAsync(state.Options.ClientNetworkListRefreshInterval).ConfigureAwait(false);
            if (!networks.IsEmpty && networks.Match(address, _time.GetUtcNow()) is { } listed)
            {
                string name = policy?.Name ?? pathRule!.Name;
                if (listed.Kind == EmailGuardListKind.Blocklist)
                {
                    _metrics.Decision(name, "denylisted");
                    string shownNetwork = LogValue.Of(listed.Value);
                    Log.ClientNetworkDenied(_logger, name, shownNetwork);
                    await _rejections.WriteDeniedAsync(context).ConfigureAwait(false);
                    return;
                }

                _metrics.Decision(name, "allowlisted");
                await Next(context, state).ConfigureAwait(false);
                return;
            }
        }

        if (!state.Allowlist.IsEmpty && state.Allowlist.Contains(context))
        {
            _metrics.Decision(policy?.Name ?? pathRule!.Name, "allowlisted");
            await Next(context, state).ConfigureAwait(false);
            return;
        }

        if (!await CheckClientIpAsync(context, state, pathRule, policy).ConfigureAwait(false))
        {
            return;
        }

        // Shadow policies only record; their defenses would block, so they have none.
        PolicyDefense? defense = null;
        string clientNetwork = "";
        if (policy is { ShadowMode: false } && state.Defenses.TryGetValue(policy.Name, out defense))
        {
            // A request without a client address cannot be banned: the shared bucket would ban every such client.
            clientNetwork = context.Connection.RemoteIpAddress is null ? "" : PartitionKeyResolver.GetIpPartition(context, state.Options);
            DefenseVerdict defended = await _defense.CheckAsync(context, state, defense, clientNetwork).ConfigureAwait(false);
            if (defended.Outcome != DefenseOutcome.Proceed)
            {
                await RejectByDefenseAsync(context, state, policy, defended).ConfigureAwait(false);
                return;
            }
        }

        string[][]? fieldValues = null;
        if (policy is { FieldNames.Length: > 0 })
        {
            FieldValueCollector.Result read = await FieldValueCollector.CollectAsync(context, policy, state.Options.MaxBodyBytes, _addressNormalization).ConfigureAwait(false);
            if (read.Succeeded)
            {
                fieldValues = read.Keys;
            }
            else if (policy.ShadowMode)
            {
                // A shadow policy records, never blocks: the request goes on without its field partitions, and the part
                // of the body the policy read is rewound, so the endpoint reads all of it.
                _metrics.Decision(policy.Name, "shadow_invalid_request");
                if (context.Request.Body.CanSeek)
                {
                    context.Request.Body.Position = 0;
                }
            }
            else
            {
                string shownProblem = LogValue.Of(read.Problem!);
                Log.BodyFieldRejected(_logger, read.StatusCode, policy.Name, shownProblem);
                _metrics.Decision(policy.Name, "invalid_request");
                await _rejections.WriteInvalidAsync(context, read.StatusCode, read.Problem!).ConfigureAwait(false);
                return;
            }
        }

        // Shadow policies are acquired on their own, so that a would-be rejection never stops the enforced rules from counting.
        bool combine = policy is null || pathRule is null || !policy.ShadowMode;
        Verdict verdict = await EvaluateAsync(context, state, pathRule, combine ? policy : null, fieldValues).ConfigureAwait(false);
        if (verdict.Kind == VerdictKind.Reject)
        {
            if (verdict.LimitExceeded && defense is not null)
            {
                await _defense.OnLimitedAsync(context, state, defense, clientNetwork).ConfigureAwait(false);
            }

            return;
        }

        if (!combine)
        {
            Verdict shadow = await EvaluateAsync(context, state, policy, null, fieldValues).ConfigureAwait(false);
            if (shadow.Kind == VerdictKind.Reject)
            {
                return;
            }
        }

        await Next(context, state).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the rest of the pipeline. With path rules, a path or method a middleware below sets onto a rule this request
    /// was not counted by is refused (<see cref="RewriteCheckedRequestFeature"/>): the request is answered with 500 and
    /// nothing serves the rewritten path. An app without path rules pays nothing for it.
    /// </summary>
    private Task Next(HttpContext context, EndpointGuardState state)
    {
        if (state.PathRules.IsEmpty || RewriteCheckedRequestFeature.Install(context, state.PathRules, _rewriteRefusals) is not { } feature)
        {
            return _next(context);
        }

        return NextCheckedAsync(context, feature);
    }

    private async Task NextCheckedAsync(HttpContext context, RewriteCheckedRequestFeature feature)
    {
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (UncountedRewriteException) when (!context.Response.HasStarted)
        {
            // Logged where it was thrown, once per rule. Answered as an endpoint routed after the middleware is
            // (ReroutedEndpointMatcherPolicy); once the response has started, the exception goes on and the server
            // aborts it.
            // Whatever a middleware below set on the response before the refusal (a redirect's Location, headers) goes.
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        }
        finally
        {
            // Before a re-executing middleware further out sets its page's path: that pass is the guard's to decide.
            feature.Remove();
        }
    }

    /// <summary>Zero means no: a <see langword="default"/> verdict rejects.</summary>
    private enum VerdictKind
    {
        Reject,
        Continue,
    }

    private readonly record struct Verdict(VerdictKind Kind, bool LimitExceeded = false);

    private async Task RejectByDefenseAsync(HttpContext context, EndpointGuardState state, EmailRateLimitPolicy policy, DefenseVerdict verdict)
    {
        if (verdict.Outcome == DefenseOutcome.ChallengeRequired)
        {
            _metrics.Decision(policy.Name, "challenge_required");
            await _rejections.ChallengeAsync(context, state, policy.Name).ConfigureAwait(false);
            return;
        }

        bool banned = verdict.Outcome == DefenseOutcome.Banned;
        _metrics.Decision(policy.Name, banned ? "banned" : "surge_rejected");
        var decision = new RateLimitDecision(RateLimitStatus.LimitExceeded, -1, verdict.RetryAfter, _time.GetUtcNow());
        long seconds = RateLimitHeaders.RetryAfterSeconds(verdict.RetryAfter, null);
        await _rejections.RejectTooManyAsync(context, state, policy, banned ? "ban" : "surge", null, decision, seconds).ConfigureAwait(false);
    }

    /// <summary>Warns once when a request's method is not one its endpoint takes: a middleware rewrote it after routing.</summary>
    private void CheckMethodChanged(HttpContext context, string routed, bool changed)
    {
        if (!changed || Volatile.Read(ref _methodChangeLogged) != 0)
        {
            return;
        }

        Endpoint? endpoint = context.GetEndpoint();
        if (Interlocked.Exchange(ref _methodChangeLogged, 1) == 0)
        {
            string shownMethod = LogValue.Of(context.Request.Method);
            Log.MethodChangedAfterRouting(_logger, endpoint!.DisplayName ?? "(unnamed)", shownMethod, routed);
        }
    }

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
}
