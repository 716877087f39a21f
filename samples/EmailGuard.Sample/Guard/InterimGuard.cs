using System.Collections.Concurrent;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;

namespace EmailGuard.Sample.Guard;

/// <summary>TEMPORARY stand-in for IEmailSendGuard until the send guard lands on main.</summary>
public sealed class InterimGuard(IRateLimitStore store, SampleDatabase database)
{
    public static readonly RateLimitRule GlobalHourly = RateLimitRule.PerHour(100);
    public static readonly RateLimitRule GlobalDaily = RateLimitRule.PerDay(10_000);
    public static readonly RateLimitRule TenantHourly = RateLimitRule.PerHour(100);
    public static readonly RateLimitRule TenantDaily = RateLimitRule.PerDay(1_000);
    public static readonly RateLimitRule RecipientHourly = RateLimitRule.PerHour(5);

    private readonly ConcurrentDictionary<string, string> _suspended = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _blocked = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, string> Suspended => _suspended;

    public IReadOnlyDictionary<string, string> Blocked => _blocked;

    public void Suspend(string tenant, string reason) => _suspended[tenant] = reason;

    public void Clear(string tenant) => _suspended.TryRemove(tenant, out _);

    public void Block(string value, string reason) => _blocked[value] = reason;

    public void Unblock(string value) => _blocked.TryRemove(value, out _);

    public async Task<GuardVerdict> CheckAsync(OutgoingMail mail, bool count, CancellationToken cancellationToken)
    {
        if (mail.TenantId is { } tenant && _suspended.TryGetValue(tenant, out string? why))
        {
            return new GuardVerdict(false, $"sending for tenant {tenant} is suspended ({why})", TimeSpan.Zero);
        }

        if (_blocked.TryGetValue(mail.To, out string? blockReason))
        {
            return new GuardVerdict(false, $"the recipient is blocklisted ({blockReason})", TimeSpan.Zero);
        }

        if (!count)
        {
            return GuardVerdict.Admitted;
        }

        List<RateLimitRequest> requests =
        [
            new("global", GlobalHourly),
            new("global", GlobalDaily),
            new($"rcpt:{mail.To.ToLowerInvariant()}", RecipientHourly),
        ];
        if (mail.TenantId is { } t)
        {
            Tenant? row = database.FindTenant(t);
            requests.Add(new($"tenant:{t}", TenantHourly.WithLimit(row?.HourlyLimit ?? TenantHourly.Limit)));
            requests.Add(new($"tenant:{t}", TenantDaily.WithLimit(row?.DailyLimit ?? TenantDaily.Limit)));
        }

        RateLimitEntry[] results = new RateLimitEntry[requests.Count];
        RateLimitDecision decision = await store.AcquireAsync(requests.ToArray(), results, cancellationToken);
        if (decision.IsAllowed)
        {
            return GuardVerdict.Admitted;
        }

        string dimension = requests[decision.DeniedIndex].Key.Split(':')[0];
        return new GuardVerdict(false, $"the {dimension} limit of {requests[decision.DeniedIndex].Rule.Limit} is reached", decision.RetryAfter);
    }

    public async Task<(long Count, long Limit)[]> UsageAsync(string key, RateLimitRule[] rules, CancellationToken cancellationToken)
    {
        RateLimitRequest[] requests = [.. rules.Select(r => new RateLimitRequest(key, r, 0))];
        RateLimitEntry[] results = new RateLimitEntry[requests.Length];
        await store.PeekAsync(requests, results, cancellationToken);
        return [.. results.Select(r => (r.Count, r.Limit))];
    }
}
