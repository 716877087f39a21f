using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The store step: the endpoint's policies (path rule and endpoint policy) decided in one acquire, with the strictest
/// failure mode of the two.
/// </summary>
internal sealed partial class EmailGuardMiddleware
{
    private async ValueTask<Verdict> EvaluateAsync(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy? first, EmailRateLimitPolicy? second, string[][]? fieldValues)
    {
        if (first is null)
        {
            (first, second) = (second!, null);
        }

        int capacity = first.RuleCount + (second?.RuleCount ?? 0) + FieldValueCollector.ExtraRequests(first, fieldValues) + FieldValueCollector.ExtraRequests(second, fieldValues)
            + PartitionKeyResolver.ExtraRequests(context, first) + PartitionKeyResolver.ExtraRequests(context, second);
        EvaluationBuffers buffers = EvaluationBuffers.Rent(capacity);
        RateLimitRequest[] requests = buffers.Requests;
        RateLimitEntry[] entries = buffers.Entries;
        PartitionRequestOwner[] owners = buffers.Owners;
        try
        {
            string? ipPartition = null;
            var missing = default(MissingValues);
            int count = PartitionKeyResolver.AddRequests(context, state, first, fieldValues, requests, owners, 0, ref ipPartition, ref missing);
            int firstCount = count;
            if (second is not null)
            {
                count = PartitionKeyResolver.AddRequests(context, state, second, fieldValues, requests, owners, count, ref ipPartition, ref missing);
            }

            EmailRateLimitPolicy named = second ?? first;
            if (missing.Any)
            {
                await RejectMissingAsync(context, named, missing).ConfigureAwait(false);
                return new(VerdictKind.Reject);
            }

            if (firstCount == 0)
            {
                NoteUncounted(first);
            }

            if (second is not null && count == firstCount)
            {
                NoteUncounted(second);
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
                requests.AsMemory(0, count), entries.AsMemory(0, count), failureMode, context.RequestAborted).ConfigureAwait(false);

            bool shadow = first.ShadowMode && (second is null || second.ShadowMode);
            switch (decision.Status)
            {
                case RateLimitStatus.Allowed:
                    Decided(activity, named.Name, "allowed");
                    if (first.QuotaHeaders || second?.QuotaHeaders == true)
                    {
                        RateLimitHeaders.SetQuotaHeaders(context.Response.Headers, owners, entries, count, decision, deniedIndex: -1);
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
                    await _rejections.RejectAsync(context, state, StatusCodes.Status503ServiceUnavailable, named.Name, "store", null, decision,
                        "The rate-limit service is temporarily unavailable. Try again shortly.").ConfigureAwait(false);
                    return new(VerdictKind.Reject);

                default:
                    int denied = decision.DeniedIndex >= 0 && decision.DeniedIndex < count ? decision.DeniedIndex : 0;
                    PartitionRequestOwner owner = owners[denied];
                    RateLimitRule rule = owner.Partition.Rules[owner.RuleIndex];
                    if (shadow)
                    {
                        Decided(activity, owner.Policy.Name, "shadow_rejected", owner.Partition.KindTag);
                        Log.ShadowWouldReject(_logger, owner.Policy.Name, owner.Partition.KindTag, rule.Limit, rule.Window);
                        return new(VerdictKind.Continue);
                    }

                    Decided(activity, owner.Policy.Name, "rejected", owner.Partition.KindTag);
                    RateLimitHeaders.SetQuotaHeaders(context.Response.Headers, owners, entries, count, decision, denied);
                    long seconds = RateLimitHeaders.RetryAfterSeconds(decision.RetryAfter, rule);
                    Log.RequestRejected(_logger, owner.Policy.Name, owner.Partition.KindTag, rule.Limit, rule.Window, seconds);
                    try
                    {
                        await _rejections.RejectTooManyAsync(context, state, owner.Policy, owner.Partition.KindTag, rule, decision, seconds).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException)
                    {
                        // The client hung up before its answer was written. The request was still denied, and the
                        // denial still counts toward the policy's ban (see EndpointDefense.OnLimitedAsync).
                    }

                    return new(VerdictKind.Reject, LimitExceeded: true);
            }
        }
        finally
        {
            buffers.Return();
        }
    }

    private async Task RejectMissingAsync(HttpContext context, EmailRateLimitPolicy named, MissingValues missing)
    {
        string problem;
        if (missing.Field)
        {
            problem = $"The request must carry the field(s) {string.Join(", ", named.FieldNames)}.";
            Log.BodyFieldRejected(_logger, StatusCodes.Status400BadRequest, named.Name, problem);
        }
        else
        {
            named = missing.Policy!;
            problem = missing.ValueProblem;
            Log.PartitionValueMissingRejected(_logger, named.Name, missing.Partition!.Description);
        }

        _metrics.Decision(named.Name, "invalid_request");
        await _rejections.WriteInvalidAsync(context, StatusCodes.Status400BadRequest, problem).ConfigureAwait(false);
    }

    /// <summary>Records a request <paramref name="policy"/> counted in none of its partitions, and warns of it at most once per interval.</summary>
    private void NoteUncounted(EmailRateLimitPolicy policy)
    {
        _metrics.Uncounted(policy.Name);
        if (policy.Uncounted.Note(_time, out long requests))
        {
            Log.RequestUncounted(_logger, policy.Name, policy.PartitionsDescription, requests, policy.UncountedAdvice, UncountedRequests.LogInterval);
        }
    }

    private void Decided(Activity? activity, string policy, string outcome, string? partitionKind = null)
    {
        _metrics.Decision(policy, outcome);
        EndpointActivity.SetOutcome(activity, policy, outcome, partitionKind);
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
}
