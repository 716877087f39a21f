using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// The app's lists, with hooks that run while they are set: before each write (and may throw instead), after each write,
/// and before each find; an async hook lets a test hold one delivery there while another runs.
/// </summary>
internal sealed class HookedLists(IEmailGuardLists inner) : IEmailGuardLists
{
    public Action? OnAdd { get; set; }

    public Func<ValueTask>? AfterAdd { get; set; }

    public Func<ValueTask>? BeforeFind { get; set; }

    /// <summary>Holds the next blocklist lookup until <see cref="Hold.Release"/>.</summary>
    public Hold HoldNextFind()
    {
        Hold hold = new();
        BeforeFind = () =>
        {
            BeforeFind = null;
            return hold.ArriveAsync();
        };
        return hold;
    }

    /// <summary>Holds the next blocklist write, once made, until <see cref="Hold.Release"/>.</summary>
    public Hold HoldAfterNextAdd()
    {
        Hold hold = new();
        AfterAdd = () =>
        {
            AfterAdd = null;
            return hold.ArriveAsync();
        };
        return hold;
    }

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

    public async ValueTask<EmailGuardListEntry> AddAsync(
        EmailGuardListKind kind, EmailGuardPartyType partyType, string value, string reason, TimeSpan? duration = null, string? addedBy = null, CancellationToken cancellationToken = default)
    {
        OnAdd?.Invoke();
        EmailGuardListEntry entry = await inner.AddAsync(kind, partyType, value, reason, duration, addedBy, cancellationToken);
        if (AfterAdd is { } afterAdd)
        {
            await afterAdd();
        }

        return entry;
    }

    public ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
        => inner.RemoveAsync(kind, partyType, value, cancellationToken);

    public async ValueTask<EmailGuardListEntry?> FindAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
    {
        if (BeforeFind is { } beforeFind)
        {
            await beforeFind();
        }

        return await inner.FindAsync(kind, partyType, value, cancellationToken);
    }

    public ValueTask<EmailGuardListPage> ListAsync(EmailGuardListQuery query, CancellationToken cancellationToken = default)
        => inner.ListAsync(query, cancellationToken);

    public ValueTask<IReadOnlyDictionary<string, int>> CountByReasonAsync(EmailGuardListKind kind, bool includeExpired = false, CancellationToken cancellationToken = default)
        => inner.CountByReasonAsync(kind, includeExpired, cancellationToken);

    /// <summary>A call held at a hook: <see cref="Reached"/> completes when it arrives, and it goes on at <see cref="Release"/>.</summary>
    internal sealed class Hold
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Release() => _released.SetResult();

        internal async ValueTask ArriveAsync()
        {
            _reached.SetResult();
            await _released.Task;
        }
    }
}
