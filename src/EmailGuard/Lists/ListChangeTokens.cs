using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EmailGuard;

/// <summary>
/// The change tokens of <see cref="IEmailGuardLists.GetChangeToken"/>: one per party type, fired once after this
/// instance wrote an entry of that type, then replaced by a new one (the pattern <see cref="ChangeToken.OnChange(Func{IChangeToken?}, Action)"/>
/// expects).
/// </summary>
/// <remarks>
/// A token is made only when someone asks for one, so a write nobody watches (a suppression per bounce) costs one
/// exchange and no allocation. Tokens are per party type so that a watcher of client networks is not woken by every
/// recipient suppression that feedback writes.
/// </remarks>
internal sealed partial class ListChangeTokens
{
    private readonly CancellationTokenSource?[] _sources = new CancellationTokenSource?[Enum.GetValues<EmailGuardPartyType>().Length];
    private readonly ILogger _logger;

    public ListChangeTokens(ILogger logger) => _logger = logger;

    public IChangeToken Get(EmailGuardPartyType partyType)
    {
        ref CancellationTokenSource? slot = ref _sources[Index(partyType)];
        CancellationTokenSource? source = Volatile.Read(ref slot);
        if (source is null)
        {
            CancellationTokenSource created = new();
            source = Interlocked.CompareExchange(ref slot, created, null) ?? created;
        }

        return new CancellationChangeToken(source.Token);
    }

    /// <summary>Fires the party type's token, if anyone asked for it; the next <see cref="Get"/> gives a new one.</summary>
    public void Signal(EmailGuardPartyType partyType)
    {
        if (Interlocked.Exchange(ref _sources[Index(partyType)], null) is not { } fired)
        {
            return;
        }

        try
        {
            // Callbacks run here, on the writer's call. The write has succeeded by then: a watcher's exception must not
            // fail it, nor keep the other watchers from being told.
            fired.Cancel(throwOnFirstException: false);
        }
        catch (AggregateException ex)
        {
            LogCallbackFailed(_logger, partyType, LogValue.Of(ex));
        }
    }

    private static int Index(EmailGuardPartyType partyType)
        => Enum.IsDefined(partyType) ? (int)partyType : throw new ArgumentOutOfRangeException(nameof(partyType), partyType, "Unknown party type.");

    [LoggerMessage(EventId = 2986, EventName = "ListChangeCallbackFailed", Level = LogLevel.Warning,
        Message = "A callback on the change token of the {PartyType} lists threw; the list write itself succeeded.")]
    private static partial void LogCallbackFailed(ILogger logger, EmailGuardPartyType partyType, Exception exception);
}
