using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Feedback;

/// <summary>The app's lists, with a hook that runs before each blocklist write while it is set (and may throw instead).</summary>
internal sealed class HookedLists(IEmailGuardLists inner) : IEmailGuardLists
{
    public Action? OnAdd { get; set; }

    /// <summary>Registers the app's lists wrapped in a <see cref="HookedLists"/>, handed to <paramref name="created"/> when the container makes it.</summary>
    public static void Register(IServiceCollection services, Action<HookedLists> created)
        => services.AddSingleton<IEmailGuardLists>(sp =>
        {
            HookedLists lists = new(new EmailGuardLists(
                sp.GetRequiredService<GuardStateCache>(),
                sp.GetRequiredService<IOptions<SendGuardOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                null));
            created(lists);
            return lists;
        });

    public ValueTask<EmailGuardListEntry> AddAsync(
        EmailGuardListKind kind, EmailGuardPartyType partyType, string value, string reason, TimeSpan? duration = null, string? addedBy = null, CancellationToken cancellationToken = default)
    {
        OnAdd?.Invoke();
        return inner.AddAsync(kind, partyType, value, reason, duration, addedBy, cancellationToken);
    }

    public ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
        => inner.RemoveAsync(kind, partyType, value, cancellationToken);

    public ValueTask<EmailGuardListEntry?> FindAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
        => inner.FindAsync(kind, partyType, value, cancellationToken);

    public ValueTask<EmailGuardListPage> ListAsync(EmailGuardListQuery query, CancellationToken cancellationToken = default)
        => inner.ListAsync(query, cancellationToken);

    public ValueTask<IReadOnlyDictionary<string, int>> CountByReasonAsync(EmailGuardListKind kind, bool includeExpired = false, CancellationToken cancellationToken = default)
        => inner.CountByReasonAsync(kind, includeExpired, cancellationToken);
}
